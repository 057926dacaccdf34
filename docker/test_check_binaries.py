"""Tests for check_binaries.py on small fake repositories (python3 -m unittest, stdlib only)."""
import contextlib
import io
import os
import shutil
import sys
import tempfile
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_binaries  # noqa: E402

DOCKERFILE = """\
FROM rust:1-slim AS builder
RUN cargo build --release --bin media-worker \\
        --bin reassembler
FROM python:3.11-slim AS ort
COPY docker/extract_ort.py /x.py
FROM debian:bookworm-slim
COPY --from=ort /ort/lib/ /opt/
COPY --from=builder /src/target/release/media-worker /src/target/release/reassembler /usr/local/bin/
"""

IGNORE = "*\n!Cargo.toml\n!workers/\n!smoke-test/\n!docker/extract_ort.py\n"


def write(root: str, rel: str, text: str) -> None:
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(textwrap.dedent(text))


class CheckBinaries(unittest.TestCase):
    def repo(self, binaries: str, dockerfile: str = DOCKERFILE, ignore: str = IGNORE, bins=("media-worker", "reassembler")):
        root = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, root)
        write(root, "Cargo.toml", '[workspace]\nmembers = ["workers", "smoke-test"]\n')
        write(root, "workers/Cargo.toml", '[package]\nname = "w"\n\n[[bin]]\nname = "stereospot"\npath = "src/bin/stereospot.rs"\n')
        write(root, "workers/src/bin/stereospot.rs", "fn main() {}\n")
        for b in bins:
            write(root, f"workers/src/bin/{b}.rs", "fn main() {}\n")
        write(root, "smoke-test/Cargo.toml", '[package]\nname = "smoke-test"\n')
        write(root, "smoke-test/src/main.rs", "fn main() {}\n")
        write(root, "docker/extract_ort.py", "")
        write(root, "docker/worker.Dockerfile", dockerfile)
        write(root, "docker/worker.Dockerfile.dockerignore", ignore)
        write(root, "docker/binaries.txt", binaries)
        return root

    def run_check(self, root: str) -> tuple[int, str]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = check_binaries.main([root])
        return rc, out.getvalue()

    def test_consistent_repo_passes(self):
        rc, out = self.run_check(self.repo("media-worker worker\nreassembler worker\n"))
        self.assertEqual(rc, 0, out)
        self.assertIn("media-worker: ok (workers/src/bin)", out)

    def test_bins_from_cargo_toml_and_main_rs_count(self):
        found = check_binaries.crate_binaries(self.repo("", bins=()))
        self.assertEqual(found, {"stereospot": "workers/Cargo.toml [[bin]]", "smoke-test": "smoke-test/src/main.rs"})

    def test_missing_binary_fails_unless_pending(self):
        root = self.repo("media-worker worker\nreassembler worker\n", bins=("media-worker",))
        rc, out = self.run_check(root)
        self.assertEqual(rc, 1)
        self.assertIn("ERROR reassembler: no such binary", out)
        write(root, "docker/binaries.txt", "media-worker worker\nreassembler worker pending\n")
        rc, out = self.run_check(root)
        self.assertEqual(rc, 0, out)
        self.assertIn("reassembler: NOT WRITTEN YET (pending)", out)

    def test_pending_binary_that_exists_is_reported(self):
        rc, out = self.run_check(self.repo("media-worker worker pending\nreassembler worker\n"))
        self.assertEqual(rc, 0)
        self.assertIn("media-worker: exists now", out)

    def test_copied_but_not_built_or_not_listed(self):
        df = DOCKERFILE.replace("        --bin reassembler\n", "        --bin other\n")
        rc, out = self.run_check(self.repo("media-worker worker\nreassembler worker\n", dockerfile=df))
        self.assertEqual(rc, 1)
        self.assertIn("copies reassembler but its cargo build has no --bin reassembler", out)
        self.assertIn("builds other but never copies it", out)
        rc, out = self.run_check(self.repo("media-worker worker\n"))
        self.assertIn("copies reassembler, which docker/binaries.txt does not list", out)

    def test_expected_binary_not_copied(self):
        rc, out = self.run_check(self.repo("media-worker worker\nreassembler worker\nvideo-worker worker pending\n"))
        self.assertEqual(rc, 1)
        self.assertIn("worker: does not copy video-worker", out)

    def test_context_sources_stages_and_dockerignore(self):
        df = DOCKERFILE.replace("docker/extract_ort.py", "docker/missing.py").replace("--from=ort", "--from=nosuch")
        rc, out = self.run_check(self.repo("media-worker worker\nreassembler worker\n", dockerfile=df, ignore="*\n!workers/\n"))
        self.assertEqual(rc, 1)
        self.assertIn("COPY source docker/missing.py does not exist", out)
        self.assertIn("COPY --from=nosuch names no earlier stage", out)
        self.assertIn("workspace member smoke-test is not let into the build context", out)

    def test_bad_binaries_line(self):
        with self.assertRaises(SystemExit):
            self.run_check(self.repo("media-worker worker maybe\n"))


if __name__ == "__main__":
    unittest.main()

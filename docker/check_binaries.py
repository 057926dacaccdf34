#!/usr/bin/env python3
"""Check that what the Dockerfiles build and COPY matches the Rust workspace.

For every docker/*.Dockerfile:
  * each `COPY --from=builder .../target/release/<bin>` names a binary that the same file's
    `cargo build --bin <bin>` builds, and that docker/binaries.txt expects in that image;
  * every other COPY source from the build context exists in the repository.
For every binary in docker/binaries.txt:
  * the images it lists copy it;
  * it is a binary of workers/ or smoke-test/ ([[bin]] name, src/bin/<name>.rs, or the package's
    src/main.rs); when it is not, it fails, unless marked `pending` (reported as not written yet).
For every workspace member (root Cargo.toml): each <image>.Dockerfile.dockerignore lets it in.

Usage: check_binaries.py [REPO_ROOT]   (exit 1 on any failure)
"""
import glob
import os
import re
import shlex
import sys
import tomllib

CRATES = ("workers", "smoke-test")


def crate_binaries(root: str) -> dict[str, str]:
    """Binary name -> where it is declared, for the crates that build the images' binaries."""
    found: dict[str, str] = {}
    for crate in CRATES:
        manifest = os.path.join(root, crate, "Cargo.toml")
        if not os.path.exists(manifest):
            continue
        with open(manifest, "rb") as f:
            cargo = tomllib.load(f)
        pkg = cargo.get("package", {})
        for b in cargo.get("bin", []):
            path = b.get("path", f"src/bin/{b['name']}.rs")
            if os.path.exists(os.path.join(root, crate, path)):
                found[b["name"]] = f"{crate}/Cargo.toml [[bin]]"
        if pkg.get("autobins", True):
            for p in glob.glob(os.path.join(root, crate, "src", "bin", "*.rs")):
                found.setdefault(os.path.basename(p)[:-3], f"{crate}/src/bin")
            if os.path.exists(os.path.join(root, crate, "src", "main.rs")) and "name" in pkg:
                found.setdefault(pkg["name"], f"{crate}/src/main.rs")
    return found


def expected_binaries(path: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    with open(path) as f:
        for n, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "pending"):
                raise SystemExit(f"{path}:{n}: expected `binary images [pending]`, got {raw.strip()!r}")
            out[parts[0]] = {"images": set(parts[1].split(",")), "pending": len(parts) == 3}
    return out


def logical_lines(text: str) -> list[str]:
    """Dockerfile instructions with line continuations joined and comments dropped."""
    lines, cur = [], ""
    for raw in text.splitlines():
        s = raw.strip()
        if not cur and (not s or s.startswith("#")):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        lines.append(cur + s)
        cur = ""
    if cur:
        lines.append(cur)
    return lines


def parse_dockerfile(text: str) -> dict:
    stages: list[str] = []
    copied: set[str] = set()
    built: set[str] = set()
    context_sources: list[str] = []
    bad_from: list[str] = []
    for line in logical_lines(text):
        words = shlex.split(line, posix=True)
        if not words:
            continue
        instr = words[0].upper()
        if instr == "FROM":
            if "AS" in [w.upper() for w in words]:
                stages.append(words[[w.upper() for w in words].index("AS") + 1])
        elif instr == "RUN" and "cargo" in words and "build" in words:
            built.update(words[i + 1] for i, w in enumerate(words[:-1]) if w == "--bin")
        elif instr == "COPY":
            args = [w for w in words[1:] if not w.startswith("--")]
            flags = [w for w in words[1:] if w.startswith("--")]
            src_stage = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
            sources = args[:-1]
            if src_stage is None:
                context_sources.extend(sources)
            elif src_stage not in stages:
                bad_from.append(src_stage)
            elif src_stage == "builder":
                for s in sources:
                    m = re.search(r"/target/release/([A-Za-z0-9_-]+)$", s)
                    if m:
                        copied.add(m.group(1))
    return {"stages": stages, "copied": copied, "built": built, "context": context_sources, "bad_from": bad_from}


def main(argv: list[str]) -> int:
    root = os.path.abspath(argv[0] if argv else os.path.join(os.path.dirname(__file__), ".."))
    docker = os.path.join(root, "docker")
    errors: list[str] = []
    notes: list[str] = []
    have = crate_binaries(root)
    expected = expected_binaries(os.path.join(docker, "binaries.txt"))

    images: dict[str, dict] = {}
    for path in sorted(glob.glob(os.path.join(docker, "*.Dockerfile"))):
        image = os.path.basename(path)[: -len(".Dockerfile")]
        with open(path) as f:
            info = parse_dockerfile(f.read())
        images[image] = info
        for stage in info["bad_from"]:
            errors.append(f"{image}: COPY --from={stage} names no earlier stage")
        for b in sorted(info["copied"] - info["built"]):
            errors.append(f"{image}: copies {b} but its cargo build has no --bin {b}")
        for b in sorted(info["built"] - info["copied"]):
            errors.append(f"{image}: builds {b} but never copies it")
        for b in sorted(info["copied"]):
            if b not in expected:
                errors.append(f"{image}: copies {b}, which docker/binaries.txt does not list")
            elif image not in expected[b]["images"]:
                errors.append(f"{image}: copies {b}, but docker/binaries.txt lists it only for {sorted(expected[b]['images'])}")
        for src in info["context"]:
            if not glob.glob(os.path.join(root, src)):
                errors.append(f"{image}: COPY source {src} does not exist in the repository")

    for b, e in sorted(expected.items()):
        for image in sorted(e["images"]):
            if image not in images:
                errors.append(f"binaries.txt: {b} -> image {image}, but docker/{image}.Dockerfile does not exist")
            elif b not in images[image]["copied"]:
                errors.append(f"{image}: does not copy {b} (docker/binaries.txt expects it)")
        if b in have:
            if e["pending"]:
                notes.append(f"{b}: exists now ({have[b]}); drop `pending` in docker/binaries.txt")
            else:
                notes.append(f"{b}: ok ({have[b]})")
        elif e["pending"]:
            notes.append(f"{b}: NOT WRITTEN YET (pending) - no [[bin]] or src/bin/{b}.rs in {', '.join(CRATES)}")
        else:
            errors.append(f"{b}: no such binary in {', '.join(CRATES)} ([[bin]] names: {sorted(have) or 'none'})")

    with open(os.path.join(root, "Cargo.toml"), "rb") as f:
        members = tomllib.load(f).get("workspace", {}).get("members", [])
    for image in images:
        ignore = os.path.join(docker, f"{image}.Dockerfile.dockerignore")
        if not os.path.exists(ignore):
            errors.append(f"{image}: no {os.path.basename(ignore)} (the build context would include target/ and node_modules/)")
            continue
        with open(ignore) as f:
            allowed = {line.strip().rstrip("/") for line in f if line.strip().startswith("!")}
        for m in members:
            if f"!{m}" not in allowed:
                errors.append(f"{os.path.basename(ignore)}: workspace member {m} is not let into the build context")

    for n in notes:
        print(f"  {n}")
    for e in errors:
        print(f"ERROR {e}")
    print(
        f"docker binaries: {len(images)} Dockerfiles, {len(expected)} expected binaries, "
        f"{len(errors)} error(s), {sum(1 for b, e in expected.items() if e['pending'] and b not in have)} pending"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

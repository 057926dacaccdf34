"""Tests for extract_ort.py on fake wheels (python3 -m unittest, stdlib only)."""
import os
import shutil
import sys
import tempfile
import unittest
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import extract_ort  # noqa: E402


class ExtractOrt(unittest.TestCase):
    def wheel(self, members: dict[str, bytes]) -> tuple[str, str]:
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        path = os.path.join(d, "onnxruntime_gpu-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl")
        with zipfile.ZipFile(path, "w") as z:
            for name, data in members.items():
                z.writestr(name, data)
        return path, os.path.join(d, "out")

    def test_extracts_library_providers_and_link(self):
        whl, dest = self.wheel(
            {
                "onnxruntime/capi/libonnxruntime.so.1.31.1": b"lib",
                "onnxruntime/capi/libonnxruntime_providers_shared.so": b"shared",
                "onnxruntime/capi/libonnxruntime_providers_cuda.so": b"cuda",
                "onnxruntime/capi/libonnxruntime_providers_tensorrt.so": b"trt",
                "onnxruntime/capi/onnxruntime_pybind11_state.so": b"py",
            }
        )
        names = extract_ort.extract(whl, dest, ["cuda"])
        self.assertEqual(
            names,
            ["libonnxruntime.so.1.31.1", "libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so"],
        )
        self.assertEqual(sorted(os.listdir(dest)), sorted(names + ["libonnxruntime.so"]))
        self.assertEqual(os.readlink(os.path.join(dest, "libonnxruntime.so")), "libonnxruntime.so.1.31.1")
        with open(os.path.join(dest, "libonnxruntime.so"), "rb") as f:
            self.assertEqual(f.read(), b"lib")
        # idempotent: a second run replaces the link
        extract_ort.extract(whl, dest, ["cuda"])

    def test_missing_provider_or_library_fails(self):
        whl, dest = self.wheel(
            {"onnxruntime/capi/libonnxruntime.so.1.31.1": b"lib", "onnxruntime/capi/libonnxruntime_providers_shared.so": b""}
        )
        with self.assertRaisesRegex(SystemExit, "missing.*providers_cuda"):
            extract_ort.extract(whl, dest, ["cuda"])
        whl, dest = self.wheel({"onnxruntime/capi/libonnxruntime_providers_shared.so": b""})
        with self.assertRaisesRegex(SystemExit, "expected one libonnxruntime"):
            extract_ort.extract(whl, dest, [])


if __name__ == "__main__":
    unittest.main()

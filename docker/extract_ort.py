#!/usr/bin/env python3
"""Extract the ONNX Runtime shared libraries from an onnxruntime(-gpu) wheel.

Used in the images' `ort` build stage (after `pip download --no-deps`):

    extract_ort.py WHEEL DEST [--provider cuda] ...

Writes DEST/libonnxruntime.so.<version>, the providers asked for (always `shared`, which the
others need), and DEST/libonnxruntime.so -> the versioned file, the path ORT_DYLIB_PATH names.
Only the standard library: it runs in a slim Python image.
"""
import argparse
import os
import re
import sys
import zipfile

CAPI = "onnxruntime/capi/"
LIB_RE = re.compile(r"^libonnxruntime\.so\.\d+\.\d+\.\d+$")


def extract(wheel: str, dest: str, providers: list[str]) -> list[str]:
    os.makedirs(dest, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        members = {n[len(CAPI):]: n for n in z.namelist() if n.startswith(CAPI) and "/" not in n[len(CAPI):]}
        libs = sorted(m for m in members if LIB_RE.match(m))
        if len(libs) != 1:
            raise SystemExit(f"{wheel}: expected one libonnxruntime.so.X.Y.Z, found {libs}")
        wanted = libs + [f"libonnxruntime_providers_{p}.so" for p in ["shared", *providers]]
        missing = [w for w in wanted if w not in members]
        if missing:
            raise SystemExit(f"{wheel}: missing {missing}")
        for name in wanted:
            target = os.path.join(dest, name)
            with z.open(members[name]) as src, open(target, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
            os.chmod(target, 0o755)
    link = os.path.join(dest, "libonnxruntime.so")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(libs[0], link)
    return wanted


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("wheel")
    p.add_argument("dest")
    p.add_argument("--provider", action="append", default=[], help="e.g. cuda (repeatable)")
    a = p.parse_args(argv)
    for name in extract(a.wheel, a.dest, [x for x in a.provider if x != "shared"]):
        print(f"{a.dest}/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

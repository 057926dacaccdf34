"""Writes the stereo pair with ground-truth disparity that scikit-image ships (Middlebury 2014
"Motorcycle", reduced) as raw files for `make quality` (pipeline-core/examples/stereo_quality.rs).

Usage: python scripts/quality_data.py OUT_DIR

OUT_DIR receives (all row-major, no header):
  meta.txt      "WIDTH HEIGHT"
  left.rgb      the left view, packed rgb24
  right.rgb     the right view, packed rgb24
  disp.f32      disparity of each left pixel in px, little-endian float32 (right x = left x - d);
                pixels without a ground truth (inf in the data set) get the smaller (farther) of
                the nearest valid disparities on their row, the background an occluded pixel
                usually belongs to
  valid.u8      1 where the data set has a ground-truth disparity, else 0
Nothing is downloaded: the images come from the installed scikit-image package.
"""

import os
import sys

import numpy as np
from skimage import data


def fill_row(d, ok):
    """Invalid entries of one row take the smaller of the nearest valid values on each side."""
    n = d.size
    idx = np.arange(n)
    left = np.where(ok, idx, -1)
    np.maximum.accumulate(left, out=left)
    right = np.where(ok, idx, n)
    right = np.minimum.accumulate(right[::-1])[::-1]
    big = np.float32(np.inf)
    from_left = np.where(left >= 0, d[np.clip(left, 0, n - 1)], big)
    from_right = np.where(right < n, d[np.clip(right, 0, n - 1)], big)
    out = np.where(ok, d, np.minimum(from_left, from_right))
    return np.where(np.isfinite(out), out, 0.0).astype(np.float32)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: quality_data.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    left, right, disp = data.stereo_motorcycle()
    h, w = disp.shape
    valid = np.isfinite(disp)
    filled = np.stack([fill_row(disp[y], valid[y]) for y in range(h)])
    with open(os.path.join(out, "meta.txt"), "w") as f:
        f.write(f"{w} {h}\n")
    np.ascontiguousarray(left, dtype=np.uint8).tofile(os.path.join(out, "left.rgb"))
    np.ascontiguousarray(right, dtype=np.uint8).tofile(os.path.join(out, "right.rgb"))
    filled.astype("<f4").tofile(os.path.join(out, "disp.f32"))
    valid.astype(np.uint8).tofile(os.path.join(out, "valid.u8"))
    print(f"motorcycle {w}x{h}: disparity {filled.min():.1f}..{filled.max():.1f} px, "
          f"{(~valid).sum()} pixels without ground truth -> {out}")


if __name__ == "__main__":
    main()

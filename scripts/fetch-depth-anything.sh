#!/usr/bin/env bash
# Download Depth Anything V2 Small as ONNX (Apache-2.0) and verify its SHA-256.
#
#   scripts/fetch-depth-anything.sh DEST.onnx
#
# Source: the onnx-community export on Hugging Face (`onnx/model.onnx`, float32, ~99 MB), pinned to
# a repository revision. Its signature: input `pixel_values` float32 [batch_size, 3 channels, height, width]
# (ImageNet-normalised RGB, height/width multiples of 14) -> `predicted_depth` float32
# [batch_size, height, width] (relative inverse depth). Use it with:
#
#   stereospot ... --model DEST.onnx --model-profile depth-anything-v2
#
# Overrides: DA_V2_URL (another mirror of the same file), EXPECTED_SHA256 (another file, at your
# own risk). Needs curl and sha256sum. Nothing is written to DEST unless the checksum matches.
set -euo pipefail

REVISION="34f40a4c93991327074907b51792dbc27e7d6f1c"
DEFAULT_URL="https://huggingface.co/onnx-community/depth-anything-v2-small/resolve/${REVISION}/onnx/model.onnx"
# Git LFS object id (sha256) of onnx/model.onnx as listed by Hugging Face.
PINNED_SHA256="afb6a5c28f3b6bf1618c6e43f02073ef9dfdc70e937502d51603e57b0a1df10c"

URL="${DA_V2_URL:-$DEFAULT_URL}"
EXPECTED="${EXPECTED_SHA256:-$PINNED_SHA256}"

if [[ $# -ne 1 || "$1" == "-h" || "$1" == "--help" ]]; then
    echo "usage: $0 DEST.onnx   (e.g. ~/.cache/stereospot/depth-anything-v2-small.onnx)" >&2
    exit 2
fi
dest="$1"

if ! [[ "$EXPECTED" =~ ^[0-9a-f]{64}$ ]]; then
    echo "error: EXPECTED_SHA256 must be 64 lowercase hex digits, got '$EXPECTED'" >&2
    exit 2
fi
for tool in curl sha256sum; do
    command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 1; }
done

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -f "$dest" ]] && [[ "$(sha_of "$dest")" == "$EXPECTED" ]]; then
    echo "$dest already present and verified (sha256 $EXPECTED)"
    exit 0
fi

mkdir -p "$(dirname "$dest")"
tmp="$(mktemp "${dest}.XXXXXX.tmp")"
trap 'rm -f "$tmp"' EXIT

echo "downloading $URL"
curl --fail --location --retry 3 --retry-delay 2 --output "$tmp" "$URL"

actual="$(sha_of "$tmp")"
if [[ "$actual" != "$EXPECTED" ]]; then
    echo "error: checksum mismatch for $URL" >&2
    echo "  expected $EXPECTED" >&2
    echo "  got      $actual" >&2
    exit 1
fi
mv -f "$tmp" "$dest"
trap - EXIT
echo "wrote $dest (sha256 $actual)"
echo "use: --model $dest --model-profile depth-anything-v2"

# syntax=docker/dockerfile:1
# GPU video-worker image for the ECS GPU capacity provider (ECS GPU AMI, AL2023, NVIDIA driver
# 580: CUDA 13). onnxruntime-gpu 1.28-1.31 target CUDA 13 / cuDNN 9, which the base provides.
# Build from the repository root:
#   docker build --platform linux/amd64 -f docker/video-worker-gpu.Dockerfile -t stereospot-video-worker-gpu .
ARG RUST_VERSION=1.95
ARG CUDA_IMAGE=nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04

FROM rust:${RUST_VERSION}-slim-bookworm AS chef
ARG CARGO_CHEF_VERSION=0.1.78
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json --package stereospot-workers
COPY . .
RUN cargo build --release --locked --package stereospot-workers --bin video-worker

# ---- ONNX Runtime with the CUDA execution provider, from the PyPI wheel ----
FROM python:3.11-slim-bookworm AS ort
ARG ORT_VERSION=1.31.1
COPY docker/extract_ort.py /usr/local/bin/extract_ort.py
RUN pip download --no-cache-dir --no-deps --only-binary=:all: --dest /whl "onnxruntime-gpu==${ORT_VERSION}" \
    && python /usr/local/bin/extract_ort.py /whl/onnxruntime_gpu-*.whl /ort/lib --provider cuda

# ---- runtime: CUDA 13 + cuDNN 9 runtime (Ubuntu 24.04, glibc 2.39 >= the builder's 2.36) ----
FROM ${CUDA_IMAGE} AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /home/stereospot stereospot
COPY --from=ort /ort/lib/ /opt/onnxruntime/lib/
COPY --from=builder /src/target/release/video-worker /usr/local/bin/
ENV ORT_DYLIB_PATH=/opt/onnxruntime/lib/libonnxruntime.so \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,video
USER 10001:10001
WORKDIR /home/stereospot
CMD ["video-worker"]

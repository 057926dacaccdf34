# syntax=docker/dockerfile:1
# SageMaker serving image: `inference-server` answers GET /ping and POST /invocations on :8080.
# SageMaker starts it as `docker run <image> serve`, so `serve` reaches the binary as argv[1].
# SageMaker's newest GPU inference AMI has NVIDIA driver 550 (CUDA 12.4): this image uses
# CUDA 12 and onnxruntime-gpu 1.26, the last CUDA 12 build (1.28+ need CUDA 13).
# Build from the repository root:
#   docker build --platform linux/amd64 -f docker/inference.Dockerfile -t stereospot-inference .
ARG RUST_VERSION=1.95
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04

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
RUN cargo build --release --locked --package stereospot-workers --bin inference-server

FROM python:3.11-slim-bookworm AS ort
ARG ORT_VERSION=1.26.0
COPY docker/extract_ort.py /usr/local/bin/extract_ort.py
RUN pip download --no-cache-dir --no-deps --only-binary=:all: --dest /whl "onnxruntime-gpu==${ORT_VERSION}" \
    && python /usr/local/bin/extract_ort.py /whl/onnxruntime_gpu-*.whl /ort/lib --provider cuda

FROM ${CUDA_IMAGE} AS runtime
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/stereospot stereospot
COPY --from=ort /ort/lib/ /opt/onnxruntime/lib/
COPY --from=builder /src/target/release/inference-server /usr/local/bin/
ENV ORT_DYLIB_PATH=/opt/onnxruntime/lib/libonnxruntime.so \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER 10001:10001
WORKDIR /home/stereospot
EXPOSE 8080
# bash's /dev/tcp: no curl in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /ping HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/inference-server"]
CMD ["serve"]

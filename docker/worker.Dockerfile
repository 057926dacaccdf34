# syntax=docker/dockerfile:1
# CPU worker image: media-worker, reassembler, the video-worker when it runs on Fargate
# (DEPTH_DEVICE=cpu), and the web-ui service (port 8080). ECS picks the binary with the container
# command.
# Build from the repository root (see infra/README.md, `make images-push`):
#   docker build --platform linux/amd64 -f docker/worker.Dockerfile -t stereospot-worker .
ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# ---- dependency cache: cargo-chef cooks the workspace's dependencies in their own layer ----
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS chef
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
RUN cargo build --release --locked --package stereospot-workers \
        --bin media-worker --bin reassembler --bin video-worker --bin web-ui

# ---- ONNX Runtime shared library from the PyPI wheel (CPU) ----
FROM python:3.11-slim-${DEBIAN_RELEASE} AS ort
ARG ORT_VERSION=1.31.1
COPY docker/extract_ort.py /usr/local/bin/extract_ort.py
RUN pip download --no-cache-dir --no-deps --only-binary=:all: --dest /whl "onnxruntime==${ORT_VERSION}" \
    && python /usr/local/bin/extract_ort.py /whl/onnxruntime-*.whl /ort/lib

# ---- runtime ----
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /home/stereospot stereospot
COPY --from=ort /ort/lib/ /opt/onnxruntime/lib/
COPY --from=builder /src/target/release/media-worker /src/target/release/reassembler /src/target/release/video-worker /src/target/release/web-ui /usr/local/bin/
ENV ORT_DYLIB_PATH=/opt/onnxruntime/lib/libonnxruntime.so
USER 10001:10001
WORKDIR /home/stereospot
# Queue consumers expose no port; a dead worker exits and ECS replaces the task, so no HEALTHCHECK.
# web-ui listens on WEB_LISTEN_ADDR (0.0.0.0:8080); the ALB health-checks GET /healthz.
EXPOSE 8080
CMD ["media-worker"]

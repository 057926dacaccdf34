# StereoSpot — one command to see it work, one to test it all.
#   make demo   install what is needed, build, convert a clip to 3D, print where the result is
#   make test   install what the tests need and run every test (unit, integration, e2e, infra)
#   make bench  per-stage and end-to-end throughput on the shared Big Buck Bunny clip
SHELL := /bin/bash
.DEFAULT_GOAL := help

CACHE_DIR ?= $(HOME)/.cache/stereospot
export CARGO_TARGET_DIR ?= $(CACHE_DIR)/target
ORT_VERSION := 1.31.1
ORT_DIR := $(CURDIR)/.deps/onnxruntime
ORT_LIB := $(ORT_DIR)/libonnxruntime.so.$(ORT_VERSION)
export ORT_DYLIB_PATH ?= $(ORT_LIB)
VENV := $(CACHE_DIR)/venvs/test
PY := $(VENV)/bin/python
export STEREOSPOT_PYTHON := $(PY)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
ARCH := $(shell uname -m)
MEDIA := ../shared/media/big_buck_bunny_360p_24fps_60s.mp4
DEMO_OUT := $(CURDIR)/out


.PHONY: shapes-contract test-extra
.PHONY: help deps deps-system deps-ort deps-python build demo test test-rust e2e bench fmt lint clean

help:
	@echo "make demo   - install deps, build, convert a clip to side-by-side 3D"
	@echo "make test   - install test deps and run all tests"
	@echo "make e2e    - the AWS worker pipeline end to end on a local AWS-protocol server"
	@echo "make bench  - throughput benchmark (see BENCHMARKS.md)"

## --- dependencies ---------------------------------------------------------------------------
deps-system:
	@command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || { \
	  echo "installing ffmpeg (Debian package)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; }
	@python3 -m pip --version >/dev/null 2>&1 && python3 -c 'import venv, ensurepip' 2>/dev/null || { \
	  echo "installing python3-pip and python3-venv (Debian packages)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip python3-venv >/dev/null; }
	@command -v cargo >/dev/null || { echo "error: Rust (cargo) is required: https://rustup.rs"; exit 1; }

# The ONNX Runtime shared library, taken from the official PyPI wheel (Debian has none).
deps-ort: $(ORT_LIB)
$(ORT_LIB):
	@mkdir -p $(CACHE_DIR)/wheels $(ORT_DIR)
	@echo "fetching ONNX Runtime $(ORT_VERSION) (PyPI wheel)"
	python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
	  --platform manylinux_2_28_$(ARCH) onnxruntime==$(ORT_VERSION) -d $(CACHE_DIR)/wheels
	cd $(ORT_DIR) && python3 -m zipfile -e $(CACHE_DIR)/wheels/onnxruntime-$(ORT_VERSION)-*manylinux_2_28_$(ARCH).whl wheel.tmp \
	  && mv wheel.tmp/onnxruntime/capi/libonnxruntime.so.$(ORT_VERSION) . && rm -rf wheel.tmp
	@test -f $@

# Python tools for tests: moto (AWS-protocol server), onnx + numpy (model generator).
deps-python: $(VENV)/.ok
$(VENV)/.ok: Makefile
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check 'moto[server]==5.2.5' 'onnx==1.23.2' 'numpy<3'
	@touch $@

deps: deps-system deps-ort deps-python

## --- build / demo -----------------------------------------------------------------------------
build: deps-system deps-ort
	cargo build --workspace --all-targets

# The ONNX Runtime library next to the release binaries: copied to a temporary name, then renamed
# over the old one. Copying over it in place kills a running conversion that maps it (SIGBUS).
define install-ort
cp $(ORT_LIB) $(CARGO_TARGET_DIR)/release/.$(notdir $(ORT_LIB)).tmp.$$$$ && \
	  mv -f $(CARGO_TARGET_DIR)/release/.$(notdir $(ORT_LIB)).tmp.$$$$ $(CARGO_TARGET_DIR)/release/$(notdir $(ORT_LIB))
endef

demo: deps-system deps-ort
	cargo build --release -p stereospot-workers --no-default-features --bin stereospot
	$(install-ort)
	@mkdir -p $(DEMO_OUT)
	@if [ -f $(MEDIA) ]; then src=$(MEDIA); else \
	  echo "($(MEDIA) not found: generating a test clip)"; src=$(DEMO_OUT)/demo_input.mp4; \
	  ffmpeg -v error -y -f lavfi -i testsrc2=size=640x360:rate=24:duration=20 -f lavfi -i sine=frequency=440:duration=20 \
	    -c:v libx264 -c:a aac -shortest $$src; fi; \
	$(CARGO_TARGET_DIR)/release/stereospot convert $$src -o $(DEMO_OUT)/demo_3d.mp4 --layout full-sbs
	@echo
	@echo "3D result (full side-by-side): $(DEMO_OUT)/demo_3d.mp4"
	@echo "binary: $(CARGO_TARGET_DIR)/release/stereospot  (try: stereospot convert --help)"

## --- tests ------------------------------------------------------------------------------------
# STEREOSPOT_REQUIRE_TOOLS=1: a test whose tool (the venv's python, chromium, ...) is missing
# fails instead of skipping (pipeline-core/tests/support/tools.rs).
test: deps
	STEREOSPOT_REQUIRE_TOOLS=1 cargo test --workspace --no-fail-fast 2>&1 | tee $(CACHE_DIR)/last-test.log; exit $${PIPESTATUS[0]}
	@$(MAKE) --no-print-directory test-extra

# The cloud flow on a local AWS-protocol server (moto): the worker binaries as processes, faults
# included (docs/aws.md). `make test` runs these too (they are part of the integration target).
e2e: deps
	cargo test -p stereospot-workers --test integration aws_

# Suites outside cargo (infra, Dockerfile lint); each fragment adds its targets here.
TEST_EXTRA :=
-include infra/infra.mk
-include web-test/web.mk
# The browser test (inside cargo test) needs Debian's chromium and playwright-core.
deps: web-test-deps
# After the infra suite: what `smoke-test provision` builds must match what the stacks declare.
TEST_EXTRA += shapes-contract
shapes-contract: infra-test deps-python
	STEREOSPOT_INFRA_SHAPES=$(CURDIR)/infra/cdk.out.test/shapes.json \
	  cargo test -p smoke-test --test shapes_contract -- --ignored
test-extra: $(TEST_EXTRA)

bench: deps-system deps-ort deps-python
	cargo build --release -p stereospot-workers --no-default-features --bin stereospot --bin stereospot-bench
	$(install-ort)
	@mkdir -p $(CACHE_DIR)/bench
	$(PY) scripts/heavy_model.py $(CACHE_DIR)/bench/heavy.onnx
	STEREOSPOT_BENCH_MODEL=$(CACHE_DIR)/bench/heavy.onnx $(CARGO_TARGET_DIR)/release/stereospot-bench $(MEDIA)

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

clean:
	rm -rf $(DEMO_OUT)

# Picture quality of the stereo renderer against ground truth: the Motorcycle pair scikit-image
# ships (true disparity) and synthetic scenes with exact depth; old vs new renderer and identity,
# PSNR/SSIM (BENCHMARKS.md, "Picture quality against ground truth"); then flicker, seams and cut
# detection of the temporal depth window (BENCHMARKS.md §7). Not a test.
.PHONY: quality
quality: deps-python
	$(PY) -m pip install -q --disable-pip-version-check 'scikit-image==0.26.0'
	$(PY) scripts/quality_data.py $(CACHE_DIR)/quality
	cargo run --release -p pipeline-core --no-default-features --example stereo_quality -- $(CACHE_DIR)/quality
	cargo run --release -p pipeline-core --no-default-features --example temporal_quality

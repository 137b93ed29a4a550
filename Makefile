# LeadGrid: `make dev` runs the whole API locally, `make test` runs every check and test.
# Both install what they need inside the repository (node_modules/, .venv/) first.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
CARGO_LAMBDA_VERSION := 1.9.2
MOTO_VERSION := 5.2.5
FUNCTIONS := dossiers contacts flows notes events webhooks

.PHONY: dev test setup build lint unit integration clean-local

setup: node_modules/.installed $(VENV)/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

$(VENV)/.installed: Makefile
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check "moto[server]==$(MOTO_VERSION)" "cargo-lambda==$(CARGO_LAMBDA_VERSION)"
	touch $@

# The tools of the local stack, and every function as `cargo lambda watch` builds it.
build: setup
	cargo build -p shared --features cli --bins
	for f in $(FUNCTIONS); do cargo build -p $$f --bin $$f || exit 1; done

dev: build
	target/debug/leadgrid-local dev

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --all-features -- -D warnings

unit:
	cargo test --workspace --all-features --lib --bins

integration: setup
	cargo build -p shared --features cli --bin leadgrid-local --bin leadgrid-admin
	cargo test --workspace --all-features --no-run
	target/debug/leadgrid-local test -- cargo test --workspace --all-features --test '*'

test: setup lint unit integration

clean-local:
	rm -rf .leadgrid

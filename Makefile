# The commands a contributor runs.
.PHONY: crds test run lint up down

crds: ## regenerate crds/ from the API types
	cargo run --quiet -- crd --output-dir crds

test: ## the whole suite, provisioning a local control plane if needed
	scripts/test

run: ## control plane, CRDs, examples and the operator, locally
	scripts/run-local

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

up:
	scripts/control-plane up

down:
	scripts/control-plane down

# The commands a contributor runs.
.PHONY: crds argocd-cm test run lint up down

crds: ## regenerate crds/ from the API types, and the Helm chart's and kustomize base's copies of them
	cargo run --quiet -- crd --output-dir crds
	cargo run --quiet -- crd --output-dir charts/conferencing-operator/files/crds
	scripts/validate-manifests --fix

argocd-cm: ## regenerate integrations/argocd/argocd-cm.yaml from the .lua files
	UPDATE_ARGOCD_CM=1 cargo test --quiet --test it argocd_cm

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

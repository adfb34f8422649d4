# Shared by scripts/test and scripts/run-local. Sourced, not run.

# Uses the cluster KUBECONFIG names when it answers; otherwise starts the project's local
# control plane and points KUBECONFIG at it.
use_cluster() {
  if [ -n "${KUBECONFIG:-}" ] && command -v kubectl >/dev/null 2>&1 \
    && kubectl version --request-timeout=5s >/dev/null 2>&1; then
    echo "using the cluster in KUBECONFIG=$KUBECONFIG" >&2
  else
    scripts/control-plane up
    eval "$(scripts/control-plane env)"
    export KUBECONFIG
  fi
}

# Installs or updates the CRDs from crds/. Client-side apply with --validate=false because
# kubectl checks a CRD against the server's own schema of CRDs, and servers older than 1.25
# (such as the local 1.20 control plane) do not know x-kubernetes-validations; the server
# drops the CEL rules it cannot enforce, and the operator checks them itself.
install_crds() {
  kubectl apply --validate=false -f crds/ >/dev/null
  kubectl wait --for=condition=Established --timeout=60s \
    crd/conferencingtenants.conferencing.io crd/conferencingusers.conferencing.io >/dev/null
}

need_cargo() {
  command -v cargo >/dev/null 2>&1 || {
    echo "error: cargo is required (a Rust toolchain, stable 1.89 or later)" >&2
    exit 1
  }
}

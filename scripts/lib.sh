# Shared by scripts/test and scripts/run-local. Sourced, not run.

# Uses the cluster KUBECONFIG names when it answers; otherwise the project's local control
# plane (started here unless it is already up), with KUBECONFIG pointing at it. Sets
# STARTED_CONTROL_PLANE=1 only when this call started it, so that the caller may stop what it
# started and nothing else: neither a KUBECONFIG cluster nor a control plane already running
# (someone else's, or a `scripts/run-local` left up).
STARTED_CONTROL_PLANE=0
use_cluster() {
  if [ -n "${KUBECONFIG:-}" ] && command -v kubectl >/dev/null 2>&1 \
    && kubectl version --request-timeout=5s >/dev/null 2>&1; then
    echo "using the cluster in KUBECONFIG=$KUBECONFIG" >&2
  else
    if ! scripts/control-plane status >/dev/null 2>&1; then
      STARTED_CONTROL_PLANE=1
    fi
    scripts/control-plane up
    eval "$(scripts/control-plane env)"
    export KUBECONFIG
  fi
}

# Stops the local control plane if use_cluster started it (its state and the kube-apiserver
# build cache stay, so the next start takes seconds); for an EXIT trap.
stop_started_control_plane() {
  if [ "$STARTED_CONTROL_PLANE" = 1 ]; then
    STARTED_CONTROL_PLANE=0
    scripts/control-plane down || echo "warning: scripts/control-plane down failed" >&2
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

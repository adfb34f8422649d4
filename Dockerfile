# Multi-stage build: a release binary, then a minimal non-root runtime image.
#   docker build -t conferencing-operator:0.1.0 .
# (The project's own machines have no container engine; CI builds and tests the binary itself.)
# The cache mounts need BuildKit (the default builder of current Docker, and of Buildah/Podman).

FROM rust:1.89-bookworm AS build
WORKDIR /src
# Only what `cargo build` reads: the manifest and lock file, the sources, the e-mail templates
# embedded with include_str!, benches/ because Cargo.toml declares [[bench]] targets, and the
# workspace's other member (the kubectl plugin; the scale benchmark is in benches/), which
# cargo loads though it builds only the operator.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY templates ./templates
COPY benches ./benches
COPY integrations/kubectl-plugin ./integrations/kubectl-plugin
# target/ is a cache mount (not in the layer), so the binary is copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin conferencing-operator \
 && install -D -m 0755 target/release/conferencing-operator /out/conferencing-operator

# glibc, libgcc and CA certificates (for SMTP over TLS and the API server); no shell.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/conferencing-operator /usr/local/bin/conferencing-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["conferencing-operator"]
CMD ["run"]

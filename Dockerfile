# Multi-stage build: a release binary, then a minimal non-root runtime image.
# (The development machines have no container engine; CI builds and tests the binary itself.)
FROM rust:1.89-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY templates ./templates
COPY benches ./benches
COPY examples ./examples
RUN cargo build --release --locked --bin conferencing-operator

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/conferencing-operator /usr/local/bin/conferencing-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["conferencing-operator"]
CMD ["run"]

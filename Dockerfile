# syntax=docker/dockerfile:1
# Build: a release binary from the locked dependencies.
FROM rust:1.89-slim-bookworm AS build
WORKDIR /src
# The commit the image is built from, for the crusoe_ial_build_info metric (no .git in here).
ARG GIT_COMMIT=unknown
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY crates ./crates
RUN CRUSOE_IAL_GIT_COMMIT="$GIT_COMMIT" cargo build --release --locked --bin crusoe-ial \
    && strip target/release/crusoe-ial

# Run: distroless (glibc and CA certificates, no shell, no package manager), as a non-root user.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/crusoe-ial /usr/local/bin/crusoe-ial
# 65532 is the nonroot user of distroless images.
USER 65532:65532
ENV IAL_LISTEN=0.0.0.0:8080 \
    IAL_LOG_FORMAT=json
EXPOSE 8080
# No shell or curl in the image: the binary checks its own /healthz.
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/crusoe-ial", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/crusoe-ial"]
CMD ["serve"]

# Build: a release binary with the locked dependencies.
FROM rust:1.89-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --bin crusoe-ial

# Run: a slim image, a non-root user, no shell tools beyond Debian's base.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin ial
COPY --from=build /src/target/release/crusoe-ial /usr/local/bin/crusoe-ial
USER 10001
ENV IAL_LISTEN=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/crusoe-ial"]
CMD ["serve"]

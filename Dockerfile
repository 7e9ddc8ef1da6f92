# syntax=docker/dockerfile:1
# scim-sidecar container image.
#
#   docker build -t scim-sidecar .
#   docker run -p 8080:8080 -v "$PWD/config.toml:/etc/scim-sidecar/config.toml:ro" scim-sidecar
#
# The config must make the server listen on 0.0.0.0:8080 inside the container.
# Shipped mappings are under /etc/scim-sidecar/mappings; a writable data
# directory for the embedded id store is /var/lib/scim-sidecar (the workdir).

# Builder and runtime share one Debian release so the binary finds the glibc it
# was linked against; override both with --build-arg DEBIAN_RELEASE=trixie.
ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# ---- build ---------------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS builder
WORKDIR /src
# The slim image's gcc/libc6-dev suffice for linking and for mimalloc's C sources.
COPY . .
# Cache mounts keep the crates.io downloads and compiled dependencies across
# builds; the binary is copied out because the target cache is not in the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && install -D -m 0755 target/release/scim-sidecar /out/scim-sidecar

# ---- runtime -------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim
# CA roots for applications reached over HTTPS; nothing else is installed.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 scim \
    && useradd --uid 10001 --gid 10001 --no-create-home \
       --home-dir /var/lib/scim-sidecar --shell /usr/sbin/nologin scim \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/scim-sidecar

COPY --from=builder /out/scim-sidecar /usr/local/bin/scim-sidecar
COPY mappings /etc/scim-sidecar/mappings

USER 10001:10001
WORKDIR /var/lib/scim-sidecar
EXPOSE 8080

# The binary probes itself, so the image needs no curl or wget.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["scim-sidecar", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]

# SIGTERM (docker stop) triggers the server's graceful shutdown.
STOPSIGNAL SIGTERM
ENTRYPOINT ["scim-sidecar"]
CMD ["serve", "--config", "/etc/scim-sidecar/config.toml"]

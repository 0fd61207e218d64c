# incident-bot: multi-stage build, small non-root runtime.
#
#   docker build -t incident-bot .
#   docker compose -f deploy/compose.yml up -d      (see the README)
#
# The base images are build arguments with the public defaults, so the same
# file builds against local stand-ins where no registry can be reached
# (tests/image makes them: a Debian root file system from mmdebstrap, and
# for the build stage the Rust toolchain with vendored crates, offline).
#
# The runbooks (commands/) and configuration (config/) are baked in at
# /app/commands and /app/config; mount over either (e.g. your own
# /app/config/site.toml) to change them without a rebuild. Read the
# README's paragraph on the Docker socket's risk before deploying.
ARG BUILD_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
COPY crates/incident-core/Cargo.toml crates/incident-core/
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && mkdir crates/incident-core/src && touch crates/incident-core/src/lib.rs \
    && mkdir config && touch config/default.toml \
    && cargo build --release --locked \
    && rm -rf src crates/incident-core/src config
COPY src src
COPY crates crates
COPY config config
COPY commands commands
COPY migrations migrations
# Make sure the real sources are newer than the placeholder build.
# The line tables (for backtraces) stay, compressed: a third of the size.
RUN touch src/main.rs src/lib.rs crates/incident-core/src/lib.rs \
    && cargo build --release --locked \
    && objcopy --compress-debug-sections=zlib target/release/incident-bot \
    && ./target/release/incident-bot --version

# The runtime needs nothing from the network, and nothing but the C library
# from its base: TLS roots are compiled in (rustls, webpki roots), and the
# health check is the binary itself. No package is installed, so any
# glibc-based image of the same Debian release serves as the base.
FROM ${RUNTIME_IMAGE}
WORKDIR /app
COPY --from=build /src/target/release/incident-bot /usr/local/bin/incident-bot
COPY commands /app/commands
COPY config /app/config
# The site layer of the configuration; mount your own file over it.
ENV INCIDENT_BOT_CONFIG=/app/config/site.toml
# /metrics, /alertmanager, /healthz and /readyz, reachable from the compose
# network (Prometheus, Alertmanager).
ENV INCIDENT_BOT_HTTP__LISTEN=0.0.0.0:9187
# Container memory is read from the host's cgroup files, mounted read-only
# here (`-v /sys/fs/cgroup:/host/sys/fs/cgroup:ro`); without the mount the
# bot reads through the engine's stats API and its reports say so.
ENV INCIDENT_BOT_WATCH__CGROUP_ROOT=/host/sys/fs/cgroup
EXPOSE 9187
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD ["incident-bot", "health"]
# A user of its own, by number (the base needs no account for it); the
# Docker socket's group is added at run time (`group_add`).
USER 10001:10001
ENTRYPOINT ["incident-bot"]
CMD ["serve"]

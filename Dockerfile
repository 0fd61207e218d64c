# incident-bot: multi-stage build, small non-root runtime.
#
#   docker build -t incident-bot .
#   docker run --rm -e DISCORD_TOKEN ... -v /var/run/docker.sock:/var/run/docker.sock \
#     --group-add "$(stat -c %g /var/run/docker.sock)" incident-bot
#
# The runbooks (commands/) and configuration (config/) are baked in at
# /app/commands and /app/config; mount over either (e.g. your own
# /app/config/site.toml) to change them without a rebuild. Read the
# README's paragraph on the Docker socket's risk before deploying.

FROM rust:1-bookworm AS build
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
RUN touch src/main.rs src/lib.rs crates/incident-core/src/lib.rs && cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin incident-bot
WORKDIR /app
COPY --from=build /src/target/release/incident-bot /usr/local/bin/incident-bot
COPY commands /app/commands
COPY config /app/config
# The site layer of the configuration; mount your own file over it.
ENV INCIDENT_BOT_CONFIG=/app/config/site.toml
# /metrics, /alertmanager, /healthz and /readyz, reachable from the compose
# network (Prometheus, Alertmanager).
ENV INCIDENT_BOT_HTTP__LISTEN=0.0.0.0:9187
EXPOSE 9187
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD curl -fsS http://127.0.0.1:9187/healthz >/dev/null || exit 1
USER 10001:10001
ENTRYPOINT ["incident-bot"]
CMD ["serve"]

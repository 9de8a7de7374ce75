# syntax=docker/dockerfile:1
# Tasker: tasker-server, tasker-worker and the tasker CLI in one slim image.
#
#   docker build -t tasker .
#   docker run -e DATABASE_URL=postgres://… -e TASKER__AUTH__API_KEYS='[{key="…",name="ops",permissions=["*"]}]' -p 8080:8080 -p 9190:9190 tasker
#
# The image's default environment is production (API keys required, no embedded database, no
# in-process worker); docker-compose.yml runs it in development mode.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# build.rs embeds sql/ and config/tasks and compiles proto/ with protox: no protoc, no system libraries.
COPY Cargo.toml Cargo.lock build.rs rustfmt.toml ./
COPY proto proto
COPY migrations migrations
COPY sql sql
COPY config config
COPY src src
COPY benches benches
# The registry and target caches survive between builds, so an edit recompiles only Tasker itself.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin tasker-server --bin tasker-worker --bin tasker \
    && mkdir -p /out \
    && cp target/release/tasker-server target/release/tasker-worker target/release/tasker /out/

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --create-home --home-dir /home/tasker tasker
COPY --from=build /out/ /usr/local/bin/
USER tasker
WORKDIR /home/tasker
ENV TASKER_ENV=production \
    RUST_LOG=info,sqlx=warn
EXPOSE 8080 9190
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/health/live || exit 1
CMD ["tasker-server"]

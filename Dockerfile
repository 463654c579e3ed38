# Build: the committed .sqlx/ data lets the query macros check without a database.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
ENV SQLX_OFFLINE=true
COPY . .
RUN cargo build --release --locked --bin secworks

# Run: a slim image, a non-root user, the SQLite file on a volume.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data secworks \
    && mkdir -p /data && chown secworks /data
COPY --from=build /src/target/release/secworks /usr/local/bin/secworks
USER secworks
WORKDIR /data
VOLUME ["/data"]
ENV HOST=0.0.0.0 PORT=5000 DATABASE_URL=sqlite:///data/app.db
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=3s CMD curl -fsS "http://127.0.0.1:${PORT}/readyz" >/dev/null || exit 1
ENTRYPOINT ["/usr/local/bin/secworks"]

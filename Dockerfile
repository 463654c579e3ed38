# Build: each backend crate's committed .sqlx/ data (store-sqlite/, store-postgres/) lets the
# query macros check without a database.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
ENV SQLX_OFFLINE=true
COPY . .
RUN cargo build --release --locked --bin secworks

# Run: a slim image with nothing installed, a non-root user, the SQLite file on a volume.
# The health check is the binary itself (`secworks healthcheck` asks /readyz).
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data secworks \
    && mkdir -p /data && chown 10001 /data
COPY --from=build /src/target/release/secworks /usr/local/bin/secworks
USER 10001
WORKDIR /data
VOLUME ["/data"]
ENV HOST=0.0.0.0 PORT=5000 DATABASE_URL=sqlite:///data/app.db
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s CMD ["/usr/local/bin/secworks", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/secworks"]

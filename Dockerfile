# cvm-etl in a container: the `dist` profile's binary (thin LTO, one codegen
# unit) on Debian bookworm slim, run as a non-root user.
#
#   docker build --build-arg CVM_ETL_COMMIT=$(git rev-parse --short=12 HEAD) -t cvm-etl .
#   docker run --rm cvm-etl --version
#
# The build context has no .git, so the commit `--version` prints comes
# from the CVM_ETL_COMMIT build argument (`unknown` without it).
#
# How to run and schedule it: docs/scheduling.md.

ARG RUST_VERSION=1.94

FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /build

# 1. The dependencies alone, against placeholder sources: this layer is
#    reused for as long as Cargo.toml and Cargo.lock do not change, so a
#    change to src/ or sql/ rebuilds only the job itself.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src bench \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > bench/parse_floor.rs \
    && cargo build --profile dist --locked

# 2. The job: the Rust sources, the SQL and the report template they embed
#    (include_str!), and build.rs, which records the commit. The touch makes
#    sure cargo sees the real sources as newer than the placeholders it
#    built above.
ARG CVM_ETL_COMMIT=unknown
ENV CVM_ETL_COMMIT=${CVM_ETL_COMMIT}
COPY build.rs build.rs
COPY src src
COPY sql sql
COPY bench/parse_floor.rs bench/parse_floor.rs
RUN touch src/main.rs src/lib.rs \
    && cargo build --profile dist --locked \
    && install -m 0755 target/dist/cvm-etl /usr/local/bin/cvm-etl \
    && /usr/local/bin/cvm-etl --version

FROM debian:bookworm-slim

# CA certificates for the TLS connections to S3, GCS and Azure Blob.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# A numeric user, so that Kubernetes' runAsNonRoot can check it.
RUN groupadd --system --gid 10001 cvm-etl \
    && useradd --system --uid 10001 --gid cvm-etl \
        --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin cvm-etl

COPY --from=builder /usr/local/bin/cvm-etl /usr/local/bin/cvm-etl

# Relative locations in a pipeline file (input: examples/sample,
# output: out) are taken from here.
WORKDIR /app
USER 10001:10001

ENTRYPOINT ["cvm-etl"]
CMD ["--help"]

#!/usr/bin/env bash
# The whole benchmark table of bench/RESULTS.md in one sitting: 100k and 1M
# customers with and without a memory limit (DuckDB beside each, under the
# same limit), the nightly run at 1M, then 10M under 4 GiB and 10 GiB
# (cvm-etl alone) and unlimited (with DuckDB). Each step's data is made on
# first use (10M: 24 GB of CSV; the runs need about 35 GB more on the
# temporary disk) and each step's outputs are removed after it.
#
#   bench/sitting.sh > sitting.log 2>&1
#
# DUCKDB_MAX_TEMP (default 25GB) caps DuckDB's spill, so that a DuckDB run
# that outgrows the disk fails instead of filling it.
set -uo pipefail
cd "$(dirname "$0")/.."
export DUCKDB_MAX_TEMP="${DUCKDB_MAX_TEMP:-25GB}"
step() {
    echo
    echo "######## $(date -u +%FT%TZ) bench/run.sh $*"
    bench/run.sh "$@"
    echo "######## exit $?"
    rm -rf bench/out
}
git log --oneline -1
step --customers 100000
step --customers 100000 --memory-limit 1GiB --duckdb-memory-limit 1GB
step --customers 1000000
step --customers 1000000 --memory-limit 1GiB --duckdb-memory-limit 1GB
step --customers 1000000 --nightly
step --customers 1000000 --nightly --memory-limit 1GiB
step --customers 10000000 --memory-limit 4GiB --no-duckdb
step --customers 10000000 --memory-limit 10GiB --no-duckdb
step --customers 10000000
echo "######## done $(date -u +%FT%TZ)"

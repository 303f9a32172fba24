#!/usr/bin/env bash
# The benchmark: make the data with the project's generator, run cvm-etl as
# a whole process (wall, CPU, peak RSS), the floor (the time to merely parse
# the billing CSVs into Arrow, every column as text: DataFusion's reader,
# bench/parse_floor.rs, and DuckDB's), and the anchor (DuckDB running
# bench/duckdb/cvm.sql on the same files), then check that both give the
# same numbers. Results go to stdout; record them in bench/RESULTS.md with
# the machine and the date.
#
#   bench/run.sh [--customers N] [--months M] [--memory-limit SIZE] [--nightly]
#                [--duckdb-memory-limit SIZE] [--no-duckdb]
#
# --nightly times, instead, the nightly run that adds the last drop to the
# history: the run for the drop before it fills the staging cache, then the
# run for the last drop is timed with the cache, and (on another output,
# after the same first run) without it. --no-duckdb leaves out DuckDB's
# floor and anchor (to time cvm-etl alone at another memory limit).
set -euo pipefail
cd "$(dirname "$0")/.."

customers=100000
months=14
memory_limit=""
nightly=""
duckdb=1
python3 -c "import duckdb" 2>/dev/null || duckdb=""
while [ $# -gt 0 ]; do
    case "$1" in
        --customers) customers="$2"; shift 2 ;;
        --months) months="$2"; shift 2 ;;
        --memory-limit) memory_limit="$2"; shift 2 ;;
        --nightly) nightly=1; shift ;;
        --no-duckdb) duckdb=""; shift ;;
        --duckdb-memory-limit) export DUCKDB_MEMORY_LIMIT="$2"; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done

# BENCH_PROFILE=dist for the shipped build (thin LTO, one codegen unit; a
# long cold build); release by default. (Not PROFILE: build scripts read
# that name, and setting it makes cargo rebuild every dependency.)
profile="${BENCH_PROFILE:-release}"
cargo build --profile "$profile" --quiet --bin cvm-etl --example parse_floor
bin="target/$profile/cvm-etl"
data="bench/data/c${customers}-m${months}"
out="bench/out/c${customers}"
. bench/lib.sh

if [ ! -d "$data" ]; then
    echo "== generating $customers customers x $months months into $data"
    timev "$bin" sample-data --customers "$customers" --months "$months" --seed 7 \
        --end-month 2026-10 --no-bad-rows --plain --out "$data"
fi
du -sh "$data"
echo "billing lines: $(cat "$data"/billing/*/*.csv | wc -l)"

rm -rf "$out"
limit=()
[ -n "$memory_limit" ] && limit=(--memory-limit "$memory_limit" --temp-dir "${TMPDIR:-/tmp}")

if [ -n "$nightly" ]; then
    drops=($(ls "$data/billing" | sed -n 's/^dt=//p' | sort | tail -2))
    for cache in on off; do
        flags=("${limit[@]}")
        [ "$cache" = off ] && flags+=(--no-cache)
        nightly_out="$out-nightly-$cache"
        rm -rf "$nightly_out"
        "$bin" run bench/pipeline.yaml --input "$data" --output "$nightly_out" --log warn \
            --as-of "${drops[0]}" "${flags[@]}" >/dev/null
        echo "== nightly, cache $cache: ${drops[0]} run, then ${drops[1]} timed"
        timev "$bin" run bench/pipeline.yaml --input "$data" --output "$nightly_out" --log warn \
            --as-of "${drops[1]}" "${flags[@]}" >/dev/null
        stages "$nightly_out" "${drops[1]}"
    done
    exit 0
fi
echo "== cvm-etl run ${limit[*]}"
timev "$bin" run bench/pipeline.yaml --input "$data" --output "$out" --log warn "${limit[@]}" >/dev/null
stages "$out" "*"
# The staging cache is for the next night; this run leaves the disk to DuckDB.
rm -rf "$out/_cache"

echo "== floor: DataFusion parses the billing CSVs"
timev "target/$profile/examples/parse_floor" "$data" | tail -1

if [ -n "$duckdb" ]; then
    echo "== floor: DuckDB parses the billing CSVs"
    timev python3 - "$data" <<'PY'
import sys, duckdb
cols = ["invoice_id", "line_no", "customer_id", "invoice_date", "service", "amount", "currency"]
counts = ", ".join(f"COUNT({c})" for c in cols)
n = duckdb.sql(f"SELECT COUNT(*), {counts} FROM read_csv('{sys.argv[1]}/billing/*/*.csv', all_varchar = true)").fetchall()[0][0]
print(f"{n} billing lines")
PY
fi

if [ -n "$duckdb" ]; then
    theirs="bench/out/duckdb-c${customers}"
    rm -rf "$theirs"
    echo "== anchor: DuckDB runs bench/duckdb/cvm.sql on the same files"
    timev python3 bench/duckdb/run.py "$data" "$theirs" 2026-10-31
    echo "== same numbers?"
    python3 bench/duckdb/compare.py "$out" "$theirs"
fi

#!/usr/bin/env bash
# The cluster benchmark (docs/scale-out.md): the same pipeline on the same
# data, first on the local engine, then on a scheduler and EXECUTORS
# executors started on this machine (127.0.0.1, free ports, their own work
# folders), each timed as a whole process (wall, CPU, peak RSS) with its
# stage times from the manifest; then the two outputs are compared table by
# table with DuckDB. Results go to stdout; record them in bench/RESULTS.md
# with the machine and the date.
#
#   bench/cluster.sh [--customers N] [--months M] [--executors K]
#                    [--executor-memory SIZE]
set -euo pipefail
cd "$(dirname "$0")/.."

customers=1000000
months=14
executors=2
executor_memory=""
while [ $# -gt 0 ]; do
    case "$1" in
        --customers) customers="$2"; shift 2 ;;
        --months) months="$2"; shift 2 ;;
        --executors) executors="$2"; shift 2 ;;
        --executor-memory) executor_memory="$2"; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done

profile="${BENCH_PROFILE:-release}"
cargo build --profile "$profile" --quiet --bin cvm-etl
bin="target/$profile/cvm-etl"
data="bench/data/c${customers}-m${months}"
work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
. bench/lib.sh
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

if [ ! -d "$data" ]; then
    echo "== generating $customers customers x $months months into $data"
    "$bin" sample-data --customers "$customers" --months "$months" --seed 7 \
        --end-month 2026-10 --no-bad-rows --plain --out "$data"
fi
du -sh "$data"

local_out="$work/local"
echo "== local engine"
timev "$bin" run bench/pipeline.yaml --input "$data" --output "$local_out" \
    --temp-dir "$work" --no-cache --log warn >/dev/null
stages "$local_out" "*"

"$bin" scheduler --bind 127.0.0.1:0 --log warn >"$work/scheduler.out" 2>"$work/scheduler.log" &
pids+=($!)
until grep -q "listening on" "$work/scheduler.out"; do sleep 0.1; done
scheduler=$(sed -n 's/^scheduler listening on //p' "$work/scheduler.out")
memory=()
[ -n "$executor_memory" ] && memory=(--memory-limit "$executor_memory")
for n in $(seq 1 "$executors"); do
    port=$(free_port)
    "$bin" executor --scheduler "$scheduler" --bind "127.0.0.1:$port" \
        --work-dir "$work/executor-$n" "${memory[@]}" --log warn 2>"$work/executor-$n.log" &
    pids+=($!)
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.1; done
done

cluster_out="$work/cluster"
echo "== cluster: 1 scheduler + $executors executors on this machine"
timev "$bin" run bench/pipeline.yaml --input "$data" --output "$cluster_out" \
    --temp-dir "$work" --no-cache --log warn --engine "ballista://$scheduler" >/dev/null
stages "$cluster_out" "*"
echo "executors' peak RSS (KiB): $(for pid in "${pids[@]:1}"; do grep VmHWM "/proc/$pid/status" | awk '{print $2}'; done | paste -sd' ')"

echo "== same tables?"
python3 - "$local_out" "$cluster_out" <<'PY'
import os, sys, duckdb
local, cluster = sys.argv[1], sys.argv[2]
tables = sorted(t for t in os.listdir(local) if not t.startswith("_") and t != "report")
differ = 0
for t in tables:
    read = lambda root: f"read_parquet('{root}/{t}/**/*.parquet', hive_partitioning = true)"
    n = duckdb.sql(f"SELECT COUNT(*) FROM {read(local)}").fetchall()[0][0]
    extra = duckdb.sql(f"SELECT COUNT(*) FROM (SELECT * FROM {read(cluster)} EXCEPT ALL SELECT * FROM {read(local)})").fetchall()[0][0]
    missing = duckdb.sql(f"SELECT COUNT(*) FROM (SELECT * FROM {read(local)} EXCEPT ALL SELECT * FROM {read(cluster)})").fetchall()[0][0]
    print(f"{t}: {n} rows, {missing} missing, {extra} extra")
    differ += missing + extra
sys.exit(1 if differ else 0)
PY

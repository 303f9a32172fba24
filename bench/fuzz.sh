#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, cargo-fuzz) of the CSV and NDJSON
# readers: any bytes, fed whole and in chunks, must read the same, with
# increasing lines, cut records of at most 1 KiB and no panic
# (src/sources/fuzzing.rs). Not part of CI.
#
#   bench/fuzz.sh [SECONDS]     each target for SECONDS (default 300)
#
# cargo-fuzz wants nightly flags; RUSTC_BOOTSTRAP=1 lets the stable
# toolchain take them. The first build instruments every dependency
# (DataFusion included): about 25 minutes on 2 cores. Inputs that fail land
# in fuzz/artifacts/<target>/; `cargo fuzz run <target> <file>` replays one.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
for target in csv_reader ndjson_reader; do
    mkdir -p "fuzz/work/$target"
    # Rust is memory-safe: no sanitizer, so the time goes to coverage.
    cargo fuzz run --sanitizer none "$target" "fuzz/work/$target" "fuzz/seeds/$target" \
        -- -max_total_time="$seconds" -max_len=4096 -print_final_stats=1
done

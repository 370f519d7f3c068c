#!/usr/bin/env bash
# Runs outsync's cargo-fuzz targets: each for $1 seconds (default 300), or only $2.
# The corpus grows in fuzz/corpus/ (not committed); fuzz/seeds/ and fuzz/regressions/ are
# replayed first, so an input that once crashed is checked on every run. fuzz/dicts/ gives
# libFuzzer the JSON tokens and the keys outsync reads.
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); runs on stable Rust without a
# sanitizer (outsync forbids unsafe code; the fuzzers look for panics and broken invariants).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-300}"
targets="${2:-mapping_json schema_json evaluate enqueue_body}"
cargo fuzz build -s none
for target in $targets; do
    mkdir -p "corpus/$target"
    echo "==> fuzzing $target for ${seconds}s"
    cargo fuzz run -s none "$target" "corpus/$target" "seeds/$target" "regressions/$target" \
        -- -max_total_time="$seconds" -dict="dicts/$target.dict" -print_final_stats=1 2>&1 \
        | grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|INITED|DONE|panicked|ERROR|SUMMARY|Test unit written' \
        || true
    if compgen -G "artifacts/$target/crash-*" >/dev/null || compgen -G "artifacts/$target/oom-*" >/dev/null \
        || compgen -G "artifacts/$target/timeout-*" >/dev/null; then
        echo "fuzz target $target crashed; inputs in fuzz/artifacts/$target" >&2
        exit 1
    fi
done

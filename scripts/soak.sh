#!/usr/bin/env bash
# The full-size fault-injection soak: 20,000 objects (or $1) through two workers against a
# target that fails at random, on SQLite and on PostgreSQL (OUTSYNC_TEST_POSTGRES_URL).
# Prints the figures the book's "Guarantees" chapter records; the whole output goes to
# target/soak.log.
set -euo pipefail
cd "$(dirname "$0")/.."
export OUTSYNC_SOAK_OBJECTS="${1:-20000}"
mkdir -p target
cargo test --release -p outsync-tests --test it soak -- --nocapture --test-threads=1 2>&1 \
  | tee target/soak.log \
  | grep -E 'soak on|^test |test result|panicked|failed'

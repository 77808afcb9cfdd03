#!/usr/bin/env bash
# The soak of RELIABILITY.md: builds the release server, then runs the mixed workload of benches/benches/soak.rs
# against it for SOAK_MINUTES (default 10) on SQLite and, when IDENTITY_TEST_POSTGRES_URL is set, on PostgreSQL.
# Loopback only; bounded by SOAK_MINUTES and SOAK_MAX_REQUESTS.
set -euo pipefail
cd "$(dirname "$0")/.."
export SOAK_MINUTES="${SOAK_MINUTES:-10}"
cargo build --release -p identity-server -j2
backends="sqlite"
if [ -n "${IDENTITY_TEST_POSTGRES_URL:-}" ]; then backends="sqlite postgres"; fi
for backend in ${1:-$backends}; do
  SOAK_DSN="$backend" cargo bench -p identity-benches --bench soak -j2
done

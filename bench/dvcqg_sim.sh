#!/usr/bin/env bash
# DongBoHoSoMC throughput of the simulator: dvcqg-sim (SQLite) and dvcqg-bench (batches of 50 over
# keep-alive, 8 callers), both on this machine. Prints the bench's JSON line.
#   DOSSIERS (5000), THREADS (8), BENCH_SECONDS (10), BATCH (50)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin}
W=$(mktemp -d)
trap 'kill -TERM $SIM 2>/dev/null || true; wait 2>/dev/null; rm -rf "$W"' EXIT
"$BIN/dvcqg-sim" --listen=127.0.0.1:0 --database="sqlite:$W/sim.db" --url_file="$W/url" >"$W/sim.log" 2>&1 &
SIM=$!
for _ in $(seq 100); do [ -s "$W/url" ] && break; sleep 0.1; done
printf 'username=langson\npassword=langson-dev-password\n' >"$W/creds"
"$BIN/dvcqg-bench" --dvcqg_url="$(cat "$W/url")" --dvcqg_credentials_file="$W/creds" \
  --dossiers="${DOSSIERS:-5000}" --threads="${THREADS:-8}" --seconds="${BENCH_SECONDS:-10}" --batch="${BATCH:-50}"

#!/usr/bin/env bash
# Intake throughput on this machine: devbroker + dossier-intake (SQLite, synchronous=FULL) and
# dossierctl submit as the load generator, all local. Prints one line per mode.
#   DOSSIERS (default 20000 dossiers, ~5 changes each), STREAMS (4), UNARY_CALLERS (64)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin}
DOSSIERS=${DOSSIERS:-20000}
STREAMS=${STREAMS:-4}
UNARY_CALLERS=${UNARY_CALLERS:-64}
W=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -TERM $p 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$W"' EXIT
"$BIN/devbroker" --bootstrap_file="$W/bs" >"$W/devbroker.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$W/bs" ] && break; sleep 0.1; done
"$BIN/dossier-intake" --allow_insecure --kafka_brokers="$(cat "$W/bs")" --database="sqlite:$W/intake.db" \
  --listen=127.0.0.1:50061 --metrics_listen=127.0.0.1:9161 >"$W/intake.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q '"msg":"serving"' "$W/intake.log" && break; sleep 0.1; done
echo "mode | dossiers | changes | seconds | changes/s"
r=$("$BIN/dossierctl" submit --intake_addr=127.0.0.1:50061 --generate="$DOSSIERS" --concurrency="$STREAMS" --progress=false)
echo "SubmitChanges x$STREAMS streams | $r"
r=$("$BIN/dossierctl" submit --intake_addr=127.0.0.1:50061 --generate="$((DOSSIERS / 4))" --first_index=10000000 \
  --unary --concurrency="$UNARY_CALLERS" --progress=false)
echo "SubmitChange x$UNARY_CALLERS callers | $r"
curl -s 127.0.0.1:9161/metrics | grep -E 'submit_latency_seconds_(sum|count)|publish_latency_seconds_(sum|count)|published_total'

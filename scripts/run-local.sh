#!/usr/bin/env bash
# README command 1: installs what is missing, builds, starts the local stack on embedded defaults
# (devbroker + dossier-intake on SQLite) and runs the demo: a Lạng Sơn-shaped workload of dossiers
# through full lifecycles, then shows the changes arriving on dossiersync.dossier-changes.v1.
# DEMO_DOSSIERS sets the size (default 2000). The stack stops when the demo ends (KEEP_RUNNING=1
# keeps it up until Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
bash scripts/install-deps.sh
bash scripts/build.sh >/dev/null
BIN=$ROOT/build/bin
RUN=$ROOT/.run
rm -rf "$RUN" && mkdir -p "$RUN"
DEMO_DOSSIERS=${DEMO_DOSSIERS:-2000}
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

wait_for_file() {
  for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done
  echo "timed out waiting for $1" >&2; return 1
}

echo "== starting devbroker (in-memory Kafka)"
"$BIN/devbroker" --bootstrap_file="$RUN/bootstrap" --control_file="$RUN/control" >"$RUN/devbroker.log" 2>&1 &
PIDS+=($!)
wait_for_file "$RUN/bootstrap"
BROKERS=$(cat "$RUN/bootstrap")
echo "   kafka bootstrap $BROKERS, control $(cat "$RUN/control")"

echo "== starting dossier-intake (gRPC 127.0.0.1:50051, metrics 127.0.0.1:9101, SQLite $RUN/intake.db)"
"$BIN/dossier-intake" --allow_insecure --kafka_brokers="$BROKERS" --database="sqlite:$RUN/intake.db" \
  --listen=127.0.0.1:50051 --metrics_listen=127.0.0.1:9101 >"$RUN/intake.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q '"msg":"serving"' "$RUN/intake.log" && break; sleep 0.1; done
grep -q '"msg":"serving"' "$RUN/intake.log" || { echo "intake did not start:"; tail "$RUN/intake.log"; exit 1; }

echo "== demo: $DEMO_DOSSIERS dossiers through full lifecycles (SubmitChanges streams)"
"$BIN/dossierctl" submit --generate="$DEMO_DOSSIERS" --intake_addr=127.0.0.1:50051 | tee "$RUN/submit.json"

echo "== waiting for the outbox to drain into Kafka"
for _ in $(seq 300); do
  backlog=$(curl -s 127.0.0.1:9101/metrics | awk '/^dossiersync_intake_outbox_backlog /{print $2}')
  [ "${backlog:-1}" = "0" ] && break; sleep 0.1
done

echo "== dossiersync.dossier-changes.v1 (dossierctl tail, decoded)"
"$BIN/dossierctl" tail dossiersync.dossier-changes.v1 --kafka_brokers="$BROKERS" \
  --idle_timeout=2s >"$RUN/changes.jsonl"
echo "   messages on the topic: $(wc -l <"$RUN/changes.jsonl")"
echo "   first message:"
head -n 1 "$RUN/changes.jsonl" | cut -c 1-600
echo

echo "== intake metrics"
curl -s 127.0.0.1:9101/metrics | grep -E '^dossiersync_intake_(accepted_total|rejected_total|published_total|outbox_backlog)' || true

accepted=$(grep -o '"accepted":[0-9]*' "$RUN/submit.json" | cut -d: -f2)
published=$(wc -l <"$RUN/changes.jsonl")
echo
echo "== report: accepted $accepted changes, $published on Kafka; logs in $RUN/"
if [ "$accepted" != "$published" ]; then echo "MISMATCH between accepted and published" >&2; exit 1; fi
if [ "${KEEP_RUNNING:-0}" = "1" ]; then
  echo "stack running; Ctrl-C to stop"; wait
fi

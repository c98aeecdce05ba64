#!/usr/bin/env bash
# Every SPEC §10 figure on this machine with the whole stack local, printed as one table (also in
# .bench/section10/table.md). Three fresh stacks, one after the other:
#   1. devbroker + intake alone: SubmitChanges (4 streams x 64 in flight) and unary SubmitChange
#      (64 callers), closed loop, with p99 per call; then kcat -P of the same messages (the first
#      KCAT_MESSAGES intake produced: keys and values) to the same broker and topic.
#   2. the whole stack: open loop at E2E_RATE changes/s (unary), end to end intake OK -> DVCQG
#      accepted per change, from sync-results.
#   3. the whole stack: a backfill of BACKFILL dossiers (one final snapshot with every step each)
#      until all are at DVCQG; more up to TOTAL dossiers; a full reconciliation of TOTAL; the
#      resident memory of each service (VmRSS now, VmHWM peak) at TOTAL dossiers.
# Usage: bash bench/section10.sh            (about 25 minutes on 2 cores)
#        QUICK=1 bash bench/section10.sh    (small sizes: checks the script, figures not comparable)
#        PHASES="3" bash bench/section10.sh (only some of the three)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
BIN=build/bin
OUT=.bench/section10
mkdir -p "$OUT"
if [ "${QUICK:-0}" = 1 ]; then
  : "${DURATION:=5s}" "${BACKFILL:=20000}" "${TOTAL:=30000}" "${KCAT_MESSAGES:=20000}"
fi
DURATION=${DURATION:-20s}
E2E_RATE=${E2E_RATE:-1000}
E2E_DURATION=${E2E_DURATION:-30s}
BACKFILL=${BACKFILL:-879100}
TOTAL=${TOTAL:-1000000}
KCAT_MESSAGES=${KCAT_MESSAGES:-200000}
source scripts/lib/stack.sh
# Each phase writes its rows to table-N.md (rerunning one phase keeps the others' rows).
row() { echo "| $1 | $2 | $3 | $4 |" >>"$OUT/table-$PHASE.md"; }
begin_phase() { PHASE=$1; rm -f "$OUT/table-$PHASE.md"; }
ok_if() { awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN { r = (op == ">=") ? a >= b : a <= b; print r ? "met" : "**missed**" }'; }
jget() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
fmt() { printf "%.${2:-0}f" "$1"; }
restart_stack() {  # name partitions
  stack_stop; PIDS=(); PID_OF=()
  RUN=$OUT/$1 PARTITIONS=$2
  rm -rf "$RUN" && mkdir -p "$RUN"
  stack_start
}
LG=("$BIN/ds-loadgen" --intake_addr=127.0.0.1:50051 --json)

PHASES=" ${PHASES:-1 2 3} "
if [[ $PHASES == *" 1 "* ]]; then
begin_phase 1
echo "== 1. intake alone: closed loop $DURATION each"
SERVICES=intake restart_stack intake 12
"${LG[@]}" --duration="$DURATION" --mode=closed --rpc=stream --streams=4 --concurrency=64 >"$OUT/stream.json"
"${LG[@]}" --duration="$DURATION" --mode=closed --rpc=unary --concurrency=64 --first_index=10000000 >"$OUT/unary.json"
cat "$OUT/stream.json" "$OUT/unary.json"
r=$(jget "$OUT/stream.json" rate); p=$(jget "$OUT/stream.json" p99_ms)
row "intake \`SubmitChanges\` (4 streams x 64 in flight)" "≥ 10,000 changes/s, p99 ≤ 50 ms" \
  "$(fmt "$r") changes/s, p99 $(fmt "$p" 1) ms" "$(ok_if "$r" ">=" 10000) / $(ok_if "$p" "<=" 50)"
r=$(jget "$OUT/unary.json" rate); p=$(jget "$OUT/unary.json" p99_ms)
row "intake \`SubmitChange\`, 64 callers" "≥ 5,000 changes/s, p99 ≤ 50 ms" \
  "$(fmt "$r") changes/s, p99 $(fmt "$p" 1) ms" "$(ok_if "$r" ">=" 5000) / $(ok_if "$p" "<=" 50)"
echo "== 1b. kcat -P of $KCAT_MESSAGES of the same messages to the same broker and topic"
"$BIN/ds-loadgen" --e2e_brokers="$BROKERS" --kcat_input="$OUT/kcat.in" --kcat_count="$KCAT_MESSAGES" >"$OUT/kcat_input.json"
n=$(jget "$OUT/kcat_input.json" messages)
t0=$(date +%s%N)
kcat -P -b "$BROKERS" -t dossiersync.dossier-changes.v1 -K '\x1d\x1c\x1d\x1c' -D '\x1e\x1f\x1e\x1f' \
  -X enable.idempotence=true -X acks=all -X linger.ms=5 -l "$OUT/kcat.in"
t1=$(date +%s%N)
kr=$(awk -v n="$n" -v ns=$((t1 - t0)) 'BEGIN { print n / (ns / 1e9) }')
row "raw \`kcat -P\` of the same messages (idempotent, acks=all)" "reported beside intake" \
  "$(fmt "$kr") messages/s ($n messages, $(jget "$OUT/kcat_input.json" bytes) bytes)" "reference"

fi
if [[ $PHASES == *" 2 "* ]]; then
begin_phase 2
echo "== 2. the whole stack: open loop at $E2E_RATE changes/s for $E2E_DURATION, end to end"
restart_stack e2e 12
"${LG[@]}" --duration="$E2E_DURATION" --mode=open --rpc=unary --rate="$E2E_RATE" --step_gap=1s \
  --e2e_brokers="$BROKERS" >"$OUT/e2e.json"
cat "$OUT/e2e.json"
p50=$(jget "$OUT/e2e.json" e2e_p50_ms); p99=$(jget "$OUT/e2e.json" e2e_p99_ms)
row "end to end at $E2E_RATE changes/s (intake OK → simulator accepted; $(jget "$OUT/e2e.json" e2e_synced) of $(jget "$OUT/e2e.json" e2e_changes) changes)" \
  "p50 ≤ 50 ms, p99 ≤ 250 ms" "p50 $(fmt "$p50" 1) ms, p99 $(fmt "$p99" 1) ms" \
  "$(ok_if "$p50" "<=" 50) / $(ok_if "$p99" "<=" 250)"
row "intake \`SubmitChange\` at $E2E_RATE changes/s, whole stack running" "p99 ≤ 50 ms" \
  "p99 $(fmt "$(jget "$OUT/e2e.json" p99_ms)" 1) ms" "$(ok_if "$(jget "$OUT/e2e.json" p99_ms)" "<=" 50)"

fi
if [[ $PHASES == *" 3 "* ]]; then
begin_phase 3
echo "== 3. backfill of $BACKFILL dossiers through the whole pipeline"
# The devbroker keeps 5 MiB per partition and the submit outruns the sync: room for all of it
# (a backfill message is about 1.3 KB).
restart_stack backfill $(( TOTAL / 2000 > 12 ? TOTAL / 2000 : 12 ))
t0=$(date +%s%N)
"$BIN/dossierctl" submit --backfill --generate="$BACKFILL" --progress=false >"$OUT/backfill_submit.json"
cat "$OUT/backfill_submit.json"
wait_in_sync 3600 "$BACKFILL" || { echo "backfill did not converge" >&2; exit 1; }
t1=$(date +%s%N)
s=$(awk -v ns=$((t1 - t0)) 'BEGIN { print ns / 1e9 }')
row "backfill of $BACKFILL dossiers: submit → all at the simulator" "≤ 300 s" \
  "$(fmt "$s" 1) s ($(fmt "$(awk -v n="$BACKFILL" -v s="$s" 'BEGIN { print n / s }')") dossiers/s; submit alone $(fmt "$(jget "$OUT/backfill_submit.json" seconds)" 1) s)" \
  "$(ok_if "$s" "<=" 300)"
if [ "$TOTAL" -gt "$BACKFILL" ]; then
  "$BIN/dossierctl" submit --backfill --generate=$((TOTAL - BACKFILL)) --first_index="$BACKFILL" --progress=false
  wait_in_sync 3600 "$TOTAL" || { echo "the rest did not converge" >&2; exit 1; }
fi
echo "== 3b. reconciliation of $TOTAL dossiers"
"$BIN/dossierctl" reconcile --run_timeout=60m >"$OUT/reconcile.jsonl"
awk 'NR == 1' "$OUT/reconcile.jsonl" | cut -c 1-400
d=$(awk 'NR == 1' "$OUT/reconcile.jsonl" | python3 -c '
import json, sys
from datetime import datetime
r = json.loads(sys.stdin.read())
f = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
print((f(r["finished_at"]) - f(r["started_at"])).total_seconds(), r["dossiers_checked"], r.get("consistency_ratio", 0))')
set -- $d
row "reconciliation of $2 dossiers against the simulator (consistency $3)" "≤ 120 s" \
  "$(fmt "$1" 1) s ($(fmt "$(awk -v n="$2" -v s="$1" 'BEGIN { print n / s }')") dossiers/s)" "$(ok_if "$1" "<=" 120)"
echo "== 3c. resident memory at $TOTAL dossiers"
for svc in intake sync reconciliation; do
  pid=${PID_OF[$svc]}
  rss=$(awk '/^VmRSS/ {print $2 / 1024}' "/proc/$pid/status")
  hwm=$(awk '/^VmHWM/ {print $2 / 1024}' "/proc/$pid/status")
  row "resident memory of dossier-$svc at $TOTAL dossiers" "≤ 256 MB" \
    "$(fmt "$rss") MB now, $(fmt "$hwm") MB peak" "$(ok_if "$hwm" "<=" 256)"
done
fi
echo
echo "== SPEC §10 on $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo), $(date -u +%Y-%m-%d)"
TABLE=$OUT/table.md
{ echo "| figure | target | measured | |"; echo "| --- | --- | --- | --- |"; cat "$OUT"/table-[123].md 2>/dev/null || true; } >"$TABLE"
cat "$TABLE"

#!/usr/bin/env bash
# Every SPEC §10 figure on this machine with the whole stack local, printed as one table (also in
# .bench/section10/table.md). Three fresh stacks, one after the other:
#   1. devbroker + intake alone: SubmitChanges (4 streams x 64 in flight) and unary SubmitChange
#      (64 callers), closed loop, with p99 per call; then kcat -P of the same messages (the first
#      KCAT_MESSAGES intake produced: keys and values) to the same broker and topic.
#   2. the whole stack: open loop at E2E_RATE changes/s (unary), end to end intake OK -> DVCQG
#      accepted per change, from sync-results.
#   3. the whole stack: a backfill of BACKFILL dossiers (one final snapshot with every step each)
#      until all are at DVCQG; more up to TOTAL dossiers; a full reconciliation of TOTAL; GetKpis
#      at TOTAL; the resident memory of each service (VmRSS now, VmHWM peak) at TOTAL dossiers.
# Beside each figure: the CPU each process of the stack spent per item (utime + stime from
# /proc/PID/stat over the measured interval, divided by the changes / dossiers it handled).
# The phases run RUNS times (default 3), each on a fresh stack; the table shows the last run and a
# second table the spread of the main figures (median, min, max) over the runs.
# Usage: bash bench/section10.sh            (about 25 minutes per run on 2 cores)
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
RUNS=${RUNS:-3}
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
# CPU time in µs a process has used so far (utime + stime).
cpu_us() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) * 1000000 / hz }' "/proc/$1/stat"; }
declare -A CPU0=()
cpu_mark() { CPU0=(); local s; for s in "${!PID_OF[@]}"; do CPU0[$s]=$(cpu_us "${PID_OF[$s]}"); done; }
# "CPU µs per item: intake 21.3, devbroker 4.0, ..." since cpu_mark, for $1 items; each value is
# also recorded for the spread as "$2 CPU µs/item <process>".
cpu_per_item() {
  local out="" s v
  for s in intake sync reconciliation dvcqg-sim devbroker; do
    [ -n "${CPU0[$s]:-}" ] || continue
    v=$(awk -v a="${CPU0[$s]}" -v b="$(cpu_us "${PID_OF[$s]}")" -v n="$1" 'BEGIN { printf "%.1f", (b - a) / n }')
    rec "$2 CPU µs/item $s" "$v"
    out+="${out:+, }$s $v"
  done
  echo "CPU µs per item: $out"
}
# One value of a figure in this run, for the spread table.
rec() { printf '%s\t%s\t%s\n' "$RUN_I" "$1" "$2" >>"$OUT/runs.tsv"; }
rm -f "$OUT/runs.tsv"

PHASES=" ${PHASES:-1 2 3} "
for RUN_I in $(seq "$RUNS"); do
echo "==== run $RUN_I of $RUNS"
if [[ $PHASES == *" 1 "* ]]; then
begin_phase 1
echo "== 1. intake alone: closed loop $DURATION each"
SERVICES=intake restart_stack intake 12
cpu_mark
"${LG[@]}" --duration="$DURATION" --mode=closed --rpc=stream --streams=4 --concurrency=64 >"$OUT/stream.json"
stream_cpu=$(cpu_per_item "$(jget "$OUT/stream.json" ok)" stream)
intake_cpu=$(awk -F'\t' -v r="$RUN_I" '$1 == r && $2 == "stream CPU µs/item intake" { print $3 }' "$OUT/runs.tsv")
cpu_mark
"${LG[@]}" --duration="$DURATION" --mode=closed --rpc=unary --concurrency=64 --first_index=10000000 >"$OUT/unary.json"
unary_cpu=$(cpu_per_item "$(jget "$OUT/unary.json" ok)" unary)
cat "$OUT/stream.json" "$OUT/unary.json"
r=$(jget "$OUT/stream.json" rate); p=$(jget "$OUT/stream.json" p99_ms)
rec "SubmitChanges changes/s" "$r"; rec "SubmitChanges p99 ms" "$p"
row "intake \`SubmitChanges\` (4 streams x 64 in flight)" "≥ 10,000 changes/s, p99 ≤ 50 ms" \
  "$(fmt "$r") changes/s, p99 $(fmt "$p" 1) ms; $stream_cpu" "$(ok_if "$r" ">=" 10000) / $(ok_if "$p" "<=" 50)"
row "intake CPU per change on \`SubmitChanges\`" "≤ 25 µs" "$intake_cpu µs" "$(ok_if "$intake_cpu" "<=" 25)"
r=$(jget "$OUT/unary.json" rate); p=$(jget "$OUT/unary.json" p99_ms)
rec "SubmitChange changes/s" "$r"; rec "SubmitChange p99 ms" "$p"
row "intake \`SubmitChange\`, 64 callers" "≥ 5,000 changes/s, p99 ≤ 50 ms" \
  "$(fmt "$r") changes/s, p99 $(fmt "$p" 1) ms; $unary_cpu" "$(ok_if "$r" ">=" 5000) / $(ok_if "$p" "<=" 50)"
echo "== 1b. kcat -P of $KCAT_MESSAGES of the same messages to the same broker and topic"
"$BIN/ds-loadgen" --e2e_brokers="$BROKERS" --kcat_input="$OUT/kcat.in" --kcat_count="$KCAT_MESSAGES" >"$OUT/kcat_input.json"
n=$(jget "$OUT/kcat_input.json" messages)
t0=$(date +%s%N)
kcat -P -b "$BROKERS" -t dossiersync.dossier-changes.v1 -K '\x1d\x1c\x1d\x1c' -D '\x1e\x1f\x1e\x1f' \
  -X enable.idempotence=true -X acks=all -X linger.ms=5 -l "$OUT/kcat.in"
t1=$(date +%s%N)
kr=$(awk -v n="$n" -v ns=$((t1 - t0)) 'BEGIN { print n / (ns / 1e9) }')
rec "kcat messages/s" "$kr"
row "raw \`kcat -P\` of the same messages (idempotent, acks=all)" "reported beside intake" \
  "$(fmt "$kr") messages/s ($n messages, $(jget "$OUT/kcat_input.json" bytes) bytes)" "reference"

fi
if [[ $PHASES == *" 2 "* ]]; then
begin_phase 2
echo "== 2. the whole stack: open loop at $E2E_RATE changes/s for $E2E_DURATION, end to end"
restart_stack e2e 12
cpu_mark
"${LG[@]}" --duration="$E2E_DURATION" --mode=open --rpc=unary --rate="$E2E_RATE" --step_gap=1s \
  --e2e_brokers="$BROKERS" >"$OUT/e2e.json"
e2e_cpu=$(cpu_per_item "$(jget "$OUT/e2e.json" e2e_changes)" e2e)
cat "$OUT/e2e.json"
p50=$(jget "$OUT/e2e.json" e2e_p50_ms); p99=$(jget "$OUT/e2e.json" e2e_p99_ms)
rec "end to end p50 ms" "$p50"; rec "end to end p99 ms" "$p99"
row "end to end at $E2E_RATE changes/s (intake OK → simulator accepted; $(jget "$OUT/e2e.json" e2e_synced) of $(jget "$OUT/e2e.json" e2e_changes) changes)" \
  "p50 ≤ 50 ms, p99 ≤ 250 ms" "p50 $(fmt "$p50" 1) ms, p99 $(fmt "$p99" 1) ms; $e2e_cpu" \
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
cpu_mark
t0=$(date +%s%N)
"$BIN/dossierctl" submit --backfill --generate="$BACKFILL" --progress=false >"$OUT/backfill_submit.json"
cat "$OUT/backfill_submit.json"
wait_in_sync 3600 "$BACKFILL" || { echo "backfill did not converge" >&2; exit 1; }
t1=$(date +%s%N)
s=$(awk -v ns=$((t1 - t0)) 'BEGIN { print ns / 1e9 }')
backfill_cpu=$(cpu_per_item "$BACKFILL" backfill)
rec "backfill s" "$s"
row "backfill of $BACKFILL dossiers: submit → all at the simulator" "≤ 300 s" \
  "$(fmt "$s" 1) s ($(fmt "$(awk -v n="$BACKFILL" -v s="$s" 'BEGIN { print n / s }')") dossiers/s; submit alone $(fmt "$(jget "$OUT/backfill_submit.json" seconds)" 1) s); $backfill_cpu" \
  "$(ok_if "$s" "<=" 300)"
if [ "$TOTAL" -gt "$BACKFILL" ]; then
  "$BIN/dossierctl" submit --backfill --generate=$((TOTAL - BACKFILL)) --first_index="$BACKFILL" --progress=false
  wait_in_sync 3600 "$TOTAL" || { echo "the rest did not converge" >&2; exit 1; }
fi
echo "== 3b. reconciliation of $TOTAL dossiers"
# A scheduled run (incremental every 5 minutes by default) may hold the run lease: wait for it.
for _ in $(seq 3600); do
  [ "$(metric_sum 9103 dossiersync_reconciliation_run_in_progress)" = "0" ] && break
  sleep 1
done
cpu_mark
"$BIN/dossierctl" reconcile --run_timeout=60m >"$OUT/reconcile.jsonl"
recon_cpu=$(cpu_per_item "$TOTAL" reconciliation)
awk 'NR == 1' "$OUT/reconcile.jsonl" | cut -c 1-400
d=$(awk 'NR == 1' "$OUT/reconcile.jsonl" | python3 -c '
import json, sys
from datetime import datetime
r = json.loads(sys.stdin.read())
f = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
print((f(r["finished_at"]) - f(r["started_at"])).total_seconds(), r["dossiers_checked"], r.get("consistency_ratio", 0))')
set -- $d
rec "reconciliation s" "$1"
row "reconciliation of $2 dossiers against the simulator (consistency $3)" "≤ 60 s" \
  "$(fmt "$1" 1) s ($(fmt "$(awk -v n="$2" -v s="$1" 'BEGIN { print n / s }')") dossiers/s); $recon_cpu" "$(ok_if "$1" "<=" 60)"
echo "== 3c. GetKpis at $TOTAL dossiers (6 calls on one channel; the first warms it)"
"$BIN/dossierctl" kpis --calls=6 >/dev/null 2>"$OUT/kpis_calls.txt"
k=$(tail -n 5 "$OUT/kpis_calls.txt" | grep -o '[0-9.]*' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
rec "GetKpis ms" "$k"
row "\`GetKpis\` at $TOTAL dossiers (median of 5 calls)" "≤ 50 ms" "$(fmt "$k" 1) ms" "$(ok_if "$k" "<=" 50)"
echo "== 3d. resident memory at $TOTAL dossiers"
for svc in intake sync reconciliation; do
  pid=${PID_OF[$svc]}
  rss=$(awk '/^VmRSS/ {print $2 / 1024}' "/proc/$pid/status")
  hwm=$(awk '/^VmHWM/ {print $2 / 1024}' "/proc/$pid/status")
  row "resident memory of dossier-$svc at $TOTAL dossiers" "≤ 256 MB" \
    "$(fmt "$rss") MB now, $(fmt "$hwm") MB peak" "$(ok_if "$hwm" "<=" 256)"
  rec "$svc peak MB" "$hwm"
done
fi
done  # runs
echo
echo "== SPEC §10 on $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo), $(date -u +%Y-%m-%d)"
TABLE=$OUT/table.md
{ echo "| figure | target | measured | |"; echo "| --- | --- | --- | --- |"; cat "$OUT"/table-[123].md 2>/dev/null || true; } >"$TABLE"
cat "$TABLE"
echo
echo "== spread over $RUNS run(s): median (min - max)"
SPREAD=$OUT/spread.md
python3 - "$OUT/runs.tsv" >"$SPREAD" <<'PY'
import statistics, sys
values = {}
for line in open(sys.argv[1]):
    run, name, value = line.rstrip("\n").split("\t")
    values.setdefault(name, []).append(float(value))
print("| figure | median | min | max | runs |")
print("| --- | --- | --- | --- | --- |")
for name, v in values.items():
    print(f"| {name} | {statistics.median(v):.1f} | {min(v):.1f} | {max(v):.1f} | {len(v)} |")
PY
cat "$SPREAD"

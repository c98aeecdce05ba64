#!/usr/bin/env bash
# README command 1: installs what is missing, builds, starts the local stack on embedded defaults
# (devbroker, the DVCQG simulator, dossier-intake, dossier-sync and dossier-reconciliation on
# SQLite) and runs the demo: a Lạng Sơn-shaped workload of dossiers through full lifecycles, the
# changes on Kafka, how many reached the (simulated) national portal with the sync lag, then drift
# injected at the simulator found, repaired and checked again by a reconciliation. DEMO_DOSSIERS
# sets the size (default 3000). The stack stops when the demo ends (KEEP_RUNNING=1 keeps it up
# until Ctrl-C). The stack itself starts from scripts/lib/stack.sh (shared with bench/).
set -euo pipefail
# Waits scale with the demo's size (3,000 dossiers = 1).
SCALE=$(( ${DEMO_DOSSIERS:-3000} > 3000 ? ${DEMO_DOSSIERS:-3000} / 3000 : 1 ))
cd "$(dirname "$0")/.."
ROOT=$(pwd)
bash scripts/install-deps.sh
bash scripts/build.sh >/dev/null
BIN=$ROOT/build/bin
RUN=$ROOT/.run
rm -rf "$RUN" && mkdir -p "$RUN"
DEMO_DOSSIERS=${DEMO_DOSSIERS:-3000}
# The devbroker keeps at most 5 MiB per partition (librdkafka's mock cluster): bigger demos get
# more partitions so nothing falls off the log before the sync reads it.
PARTITIONS=$(( 2 * SCALE > 6 ? 2 * SCALE : 6 ))
SERVICES="sim intake sync reconciliation console"
source scripts/lib/stack.sh
echo "== starting devbroker (in-memory Kafka, $PARTITIONS partitions per topic), dvcqg-sim (the national"
echo "   portal simulator, http://127.0.0.1:8580), dossier-intake (gRPC 127.0.0.1:50051, metrics :9101),"
echo "   dossier-sync (50052, :9102), dossier-reconciliation (50053, :9103) and dossier-console"
echo "   (http://127.0.0.1:8090), all on SQLite in $RUN"
stack_start
echo "   kafka bootstrap $BROKERS, control $(cat "$RUN/control")"

# DVCQG silently drops a small share of writes (answers success, stores nothing), as met in
# production; only the reconciliation at the end can find what they cost.
DROP_RATE=${DROP_RATE:-0.002}
curl -s -XPOST 127.0.0.1:8580/admin/faults -d "{\"drop_rate\":$DROP_RATE}" >/dev/null

start_ms=$(date +%s%3N)
echo "== demo: $DEMO_DOSSIERS dossiers through full lifecycles (SubmitChanges streams)"
"$BIN/dossierctl" submit --generate="$DEMO_DOSSIERS" --intake_addr=127.0.0.1:50051 | tee "$RUN/submit.json"

echo "== waiting for the outbox to drain into Kafka"
for _ in $(seq $(( 300 * SCALE ))); do
  backlog=$(curl -s 127.0.0.1:9101/metrics | awk '/^dossiersync_intake_outbox_backlog /{print $2}')
  [ "${backlog:-1}" = "0" ] && break; sleep 0.1
done

echo "== dossiersync.dossier-changes.v1 (dossierctl tail, decoded)"
accepted=$(json_num accepted <"$RUN/submit.json")
"$BIN/dossierctl" tail dossiersync.dossier-changes.v1 --kafka_brokers="$BROKERS" \
  --max_messages="$accepted" --idle_timeout=$(( 5 * SCALE ))s >"$RUN/changes.jsonl"
echo "   messages on the topic: $(wc -l <"$RUN/changes.jsonl")"
echo "   first message:"
head -n 1 "$RUN/changes.jsonl" | cut -c 1-600
echo

echo "== intake metrics"
curl -s 127.0.0.1:9101/metrics | grep -E '^dossiersync_intake_(accepted_total|rejected_total|published_total|outbox_backlog)' || true

published=$(wc -l <"$RUN/changes.jsonl")
if [ "$accepted" != "$published" ]; then echo "MISMATCH between accepted and published" >&2; exit 1; fi

echo "== waiting for dossier-sync to bring DVCQG in line"
national=0
for _ in $(seq $(( 1200 * SCALE ))); do
  national=$(curl -s 127.0.0.1:8580/admin/stats | json_num dossiers)
  pending=$(curl -s 127.0.0.1:9102/metrics | awk '/^dossiersync_sync_pending_changes /{print $2}')
  lag=$(curl -s 127.0.0.1:9102/metrics | awk '/^dossiersync_sync_consumer_lag\{/{s+=$2} END{print s+0}')
  if [ "${national:-0}" = "$DEMO_DOSSIERS" ] && [ "${pending:-1}" = "0" ] && [ "${lag:-1}" = "0" ]; then break; fi
  sleep 0.25
done

synced_ms=$(date +%s%3N)
curl -s -XPOST 127.0.0.1:8580/admin/faults -d '{"drop_rate":0}' >/dev/null
dropped=$(curl -s 127.0.0.1:8580/admin/stats | json_num dropped_write)
elapsed=$(( synced_ms - start_ms ))
# Sync lag (intake acceptance -> DVCQG acceptance) quantiles from the histogram buckets.
quantile() {
  curl -s 127.0.0.1:9102/metrics | awk -v q="$1" '
    /^dossiersync_sync_push_latency_seconds_bucket/ { match($0, /le="[^"]*"/); le=substr($0, RSTART+4, RLENGTH-5);
      n++; les[n]=le; cnt[n]=$2 }
    /^dossiersync_sync_push_latency_seconds_count/ { total=$2 }
    END { for (i=1;i<=n;i++) if (cnt[i] >= q*total) { printf "%s s", les[i]; exit } print "n/a" }'
}
steps=$(curl -s 127.0.0.1:8580/admin/stats | json_num steps)
dlq=$(curl -s 127.0.0.1:9102/metrics | awk '/^dossiersync_sync_dead_letters_total /{print $2}')
echo
echo "== report"
echo "   changes accepted by intake:        $accepted"
echo "   changes on Kafka:                  $published"
echo "   dossiers at DVCQG (simulator):     ${national:-0} of $DEMO_DOSSIERS"
echo "   progress steps at DVCQG:           ${steps:-0}"
echo "   dead letters:                      ${dlq:-0}"
echo "   writes DVCQG dropped silently:     ${dropped:-0} (drop rate $DROP_RATE)"
echo "   sync lag p50 / p99 (bucket bound): $(quantile 0.5) / $(quantile 0.99)"
echo "   submit to all-in-sync:             ${elapsed} ms ($(( accepted * 1000 / (elapsed > 0 ? elapsed : 1) )) changes/s end to end)"
echo "   logs and databases in $RUN/"
if [ "${national:-0}" != "$DEMO_DOSSIERS" ]; then echo "NOT ALL DOSSIERS REACHED DVCQG" >&2; exit 1; fi

echo
echo "== waiting for the reconciliation to have read every sync result (its evidence and the lag KPI)"
for _ in $(seq $(( 300 * SCALE ))); do
  results=$(curl -s 127.0.0.1:9102/metrics | awk '/^dossiersync_sync_pushes_total\{/{s+=$2} END{print s+0}')
  stored=$(curl -s 127.0.0.1:9103/metrics | awk '/^dossiersync_reconciliation_sync_results_total\{/{s+=$2} END{print s+0}')
  [ "${stored:-0}" -ge "${results:-1}" ] && break; sleep 0.1
done

echo "== injecting more drift at DVCQG: two statuses changed, one due date moved, online payments misreported"
codes=$(grep -o '"key":"[^"]*"' "$RUN/changes.jsonl" | cut -d'"' -f4 | sort -u | awk 'NR <= 3')  # awk reads all: no SIGPIPE under pipefail
set -- $codes
curl -s -XPOST "127.0.0.1:8580/admin/tamper/$1" -d '{"TrangThaiHoSo":"8"}' >/dev/null
curl -s -XPOST "127.0.0.1:8580/admin/tamper/$2" -d '{"TrangThaiHoSo":"8"}' >/dev/null
curl -s -XPOST "127.0.0.1:8580/admin/tamper/$3" -d '{"NgayHenTra":"20991231170000"}' >/dev/null
# And the flaw met in a production client: online payments sent as "3", which the national
# scoring does not count (indicators 3.5/3.6), on 10 dossiers paid through DVCQG's platform.
paid=$(grep '"online_payment":"ONLINE_PAYMENT_NATIONAL_PLATFORM"' "$RUN/changes.jsonl" | grep -o '"key":"[^"]*"' |
  cut -d'"' -f4 | sort -u | grep -v -e "^$1\$" -e "^$2\$" -e "^$3\$" | awk 'NR <= 10')
for c in $paid; do
  curl -s -XPOST "127.0.0.1:8580/admin/tamper/$c" -d '{"DuocThanhToanTrucTuyen":"3"}' >/dev/null
done
tampered=$(( 3 + $(echo $paid | wc -w) ))

# The national score forecast over the quarter most of the demo's dossiers were received in.
PERIOD=$(date -d '20 days ago' +%Y)-Q$(( ($(date -d '20 days ago' +%-m) + 2) / 3 ))
score_field() {  # score_field FILE EXPR: a figure of `dossierctl score --json`'s total
  python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['total']; print(round($2, 3))" "$1"
}
echo "== reconciliation (dossierctl reconcile): what the dropped writes and the tampering left"
"$BIN/dossierctl" reconcile --reconciliation_addr=127.0.0.1:50053 | tee "$RUN/reconcile1.jsonl" | cut -c 1-300
echo "== the national score forecast for $PERIOD (dossierctl score): the province's points from its"
echo "   own data and from what DVCQG holds, what the sync gap costs and the dossiers behind it"
"$BIN/dossierctl" score --period="$PERIOD" --reconciliation_addr=127.0.0.1:50053 | awk 'NR <= 16'
"$BIN/dossierctl" score --period="$PERIOD" --json --reconciliation_addr=127.0.0.1:50053 >"$RUN/score-before.json"
echo "== repair (dossierctl reconcile --repair)"
"$BIN/dossierctl" reconcile --repair --reconciliation_addr=127.0.0.1:50053 >"$RUN/repair.jsonl"
echo "== waiting for the repairs to go through the sync, then reconciling again"
for _ in $(seq $(( 200 * SCALE ))); do
  ok=1
  for c in $1 $2 $3 $paid; do
    curl -s "127.0.0.1:8580/admin/dossiers/$c" | grep '"NgayHenTra":"20991231170000"\|"TrangThaiHoSo":"8"\|"DuocThanhToanTrucTuyen":"3"' >/dev/null && ok=0
  done
  pending=$(curl -s 127.0.0.1:9102/metrics | awk '/^dossiersync_sync_pending_changes /{print $2}')
  lag=$(curl -s 127.0.0.1:9102/metrics | awk '/^dossiersync_sync_consumer_lag\{/{s+=$2} END{print s+0}')
  [ $ok = 1 ] && [ "${pending:-1}" = "0" ] && [ "${lag:-1}" = "0" ] && break; sleep 0.1
done
"$BIN/dossierctl" reconcile --reconciliation_addr=127.0.0.1:50053 | tee "$RUN/reconcile2.jsonl" | cut -c 1-300
"$BIN/dossierctl" score --period="$PERIOD" --json --reconciliation_addr=127.0.0.1:50053 >"$RUN/score-after.json"
found=$(( $(wc -l <"$RUN/reconcile1.jsonl") - 1 ))
left=$(( $(wc -l <"$RUN/reconcile2.jsonl") - 1 ))
ratio=$(awk 'NR == 1' "$RUN/reconcile2.jsonl" | json_num consistency_ratio)
kinds=$(awk 'NR == 1' "$RUN/reconcile1.jsonl" | { grep -o '"drift_by_kind":{[^}]*}' || true; } | sed 's/"drift_by_kind"://; s/DRIFT_KIND_//g')
echo
echo "== the province's figures (dossierctl kpis): received, online share, resolved, on time, in sync, sync lag"
"$BIN/dossierctl" kpis --reconciliation_addr=127.0.0.1:50053 >"$RUN/kpis.jsonl"
awk 'NR <= 3' "$RUN/kpis.jsonl"
echo "   ... one line per agency in $RUN/kpis.jsonl"
echo
echo "== score forecast $PERIOD: provincial $(score_field "$RUN/score-before.json" "t['provincial']['points']") of $(score_field "$RUN/score-before.json" "t['provincial']['max_points']") points; national view $(score_field "$RUN/score-before.json" "t['national']['points']") before the repair, $(score_field "$RUN/score-after.json" "t['national']['points']") after; points still at stake $(score_field "$RUN/score-after.json" "t['points_at_stake']")"
echo "== reconciliation: $found drift items found ($kinds; from ${dropped:-0} dropped writes and $tampered tampered dossiers), repaired; drift left after repair $left; consistency ${ratio:-?}"
if [ "$found" -lt "$tampered" ] || [ "$left" != 0 ]; then echo "RECONCILIATION DID NOT REPAIR THE DRIFT" >&2; exit 1; fi
echo "== the console: http://127.0.0.1:8090/?period=$PERIOD (English: add &lang=en); operators sign in"
echo "   with the token in $RUN/console-operator-token"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:8090/?period=$PERIOD")
if [ "$code" != 200 ]; then echo "THE CONSOLE DID NOT ANSWER (HTTP $code)" >&2; exit 1; fi
if [ "${KEEP_RUNNING:-0}" = "1" ]; then
  echo "stack running; Ctrl-C to stop"; wait
fi

#!/usr/bin/env bash
# The chart's alerts and dashboard against a real Prometheus (Debian's prometheus) scraping the
# local stack (ctest "PrometheusE2E", label deploy):
#   1. the rules rendered from the chart with short `for:` and rate windows, Prometheus on
#      loopback scraping intake, the sync and the reconciliation every second;
#   2. traffic that gives every series something to show: changes, a refused change, a dossier
#      changed at the simulator found as drift by a reconciliation;
#   3. DVCQG failing (the simulator answers 503): DossierSyncDvcqgErrors and
#      DossierSyncDvcqgBreakerOpen become active; DVCQG back: both resolve;
#   4. every dashboard panel's expression and every metric an alert reads returns series (but
#      the per-partition loss counters, which exist only after a loss: the alert's expression
#      covers their absence, tests/alerts/rules_test.yaml checks it).
# Waits are on conditions (polls with deadlines), never fixed sleeps.
# Usage: tests/prometheus_e2e.sh BIN_DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/build/bin}
source "$ROOT/tests/lib/chart_tools.sh"
command -v prometheus >/dev/null || { echo "prometheus missing: apt-get install prometheus" >&2; exit 1; }
RUN=$(mktemp -d)
PARTITIONS=4
SYNC_FLAGS="--breaker_threshold=3 --breaker_cooldown=1s --backoff_cap=2s"
source "$ROOT/scripts/lib/stack.sh"
PROM_PID=""
cleanup() {
  local rc=$?
  [ -n "$PROM_PID" ] && kill -TERM "$PROM_PID" 2>/dev/null
  stack_stop
  if [ $rc = 0 ]; then rm -rf "$RUN"; else echo "logs kept in $RUN" >&2; fi
}
stack_start
trap cleanup EXIT

# 1. The chart's rules with the test's short durations, and Prometheus.
FOR=()
for a in consumerLagHigh deadLettersPilingUp driftRising dvcqgErrors dvcqgBreakerOpen \
  outboxBacklogGrowing reconciliationOverdue reconciliationFailing retryBudgetExhausted targetDown \
  eventStreamLost; do
  FOR+=(--set "prometheusRule.for.$a=0s")
done
"$HELM" template rel "$ROOT/helm/dossier-sync" --kube-version 1.27.0 \
  -f "$ROOT/tests/deploy/values-dev.yaml" --show-only templates/prometheusrule.yaml \
  --set prometheusRule.window=15s "${FOR[@]}" >"$RUN/prometheusrule.yaml"
$PY "$ROOT/tests/alerts/rules_of.py" "$RUN/prometheusrule.yaml" "$RUN/rules.yaml"
PROM_PORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$RUN/prometheus.yml" <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [$RUN/rules.yaml]
scrape_configs:
  - {job_name: rel-intake, static_configs: [{targets: ["127.0.0.1:9101"]}]}
  - {job_name: rel-sync, static_configs: [{targets: ["127.0.0.1:9102"]}]}
  - {job_name: rel-reconciliation, static_configs: [{targets: ["127.0.0.1:9103"]}]}
EOF
prometheus --config.file="$RUN/prometheus.yml" --storage.tsdb.path="$RUN/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$RUN/prometheus.log" 2>&1 &
PROM_PID=$!
PROM=http://127.0.0.1:$PROM_PORT
# until SECONDS WHAT CMD...: polls CMD every 0.5 s until it succeeds.
until_ok() {
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@"; do
    if [ $SECONDS -ge $deadline ]; then echo "timed out: $what" >&2; return 1; fi
    sleep 0.5
  done
}
# Series count of a PromQL expression now (0 when Prometheus cannot answer).
series() {
  curl -sf --get "$PROM/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
    $PY -c 'import json, sys; print(len(json.load(sys.stdin)["data"]["result"]))' 2>/dev/null || echo 0
}
has_series() { [ "$(series "$1")" -gt 0 ]; }
until_ok 60 "Prometheus ready" curl -sf "$PROM/-/ready" -o /dev/null
until_ok 60 "three targets up" has_series 'count(up == 1) == 3'

# 2. Traffic. A dossier changed at DVCQG behind the province's back becomes drift.
fault() { curl -sf -X POST "$DVCQG_URL/admin/faults" -d "$1" -o /dev/null; }
synced() { [ "$(metric_sum 9102 dossiersync_sync_pushes_total)" != 0 ] && [ "$(metric_sum 9102 dossiersync_sync_pending_changes)" = 0 ]; }
"$BIN/dossierctl" submit --generate=20 --progress=false >/dev/null
until_ok 120 "the sync pushed the first changes" synced
"$BIN/dossierctl" tail dossiersync.dossier-changes.v1 --kafka_brokers="$BROKERS" --max_messages=1 \
  --idle_timeout=10s >"$RUN/first.jsonl"
code=$(grep -o '"key":"[^"]*"' "$RUN/first.jsonl" | head -n 1 | cut -d'"' -f4)
curl -sf -X POST "$DVCQG_URL/admin/tamper/$code" -d '{"TrangThaiHoSo":"8"}' -o /dev/null
echo '{"dossier": {"code": "not-a-code"}}' >"$RUN/bad.jsonl"
"$BIN/dossierctl" submit --file="$RUN/bad.jsonl" --progress=false >/dev/null 2>&1 || true
"$BIN/dossierctl" reconcile >"$RUN/reconcile.jsonl"
grep -q DRIFT_KIND_ "$RUN/reconcile.jsonl" || { echo "no drift found" >&2; head -c 600 "$RUN/reconcile.jsonl" >&2; exit 1; }

# 3. DVCQG failing: the errors and breaker alerts fire; DVCQG back: they resolve.
firing() {  # firing ALERT...: all of them active now
  local active
  active=$(curl -sf "$PROM/api/v1/alerts" | $PY -c '
import json, sys
print(" ".join(a["labels"]["alertname"] for a in json.load(sys.stdin)["data"]["alerts"] if a["state"] == "firing"))')
  for a in "$@"; do [[ " $active " == *" $a "* ]] || return 1; done
}
none_firing() { for a in "$@"; do firing "$a" && return 1; done; return 0; }
fault '{"error_503_rate": 1.0}'
"$BIN/dossierctl" submit --generate=10 --first_index=2000 --progress=false >/dev/null
until_ok 120 "DVCQG alerts firing" firing DossierSyncDvcqgErrors DossierSyncDvcqgBreakerOpen
echo "DVCQG down: DossierSyncDvcqgErrors and DossierSyncDvcqgBreakerOpen firing"
fault '{"error_503_rate": 0.0}'
until_ok 180 "DVCQG alerts resolved" none_firing DossierSyncDvcqgErrors DossierSyncDvcqgBreakerOpen
until_ok 120 "the changes held while DVCQG was down pushed" synced
echo "DVCQG back: both resolved"

# 4. Every panel's expression and every metric an alert reads return series.
missing=0
while IFS= read -r expr; do
  if ! until_ok 60 "dashboard: $expr" has_series "$expr"; then missing=$((missing + 1)); fi
done < <($PY -c '
import json, sys
for p in json.load(open(sys.argv[1]))["panels"]:
    for t in p["targets"]:
        print(t["expr"])' "$ROOT/helm/dossier-sync/dashboards/dossier-sync.json")
while IFS= read -r name; do
  if ! until_ok 60 "alert input: $name" has_series "$name"; then missing=$((missing + 1)); fi
done < <($PY -c '
import re, sys, yaml
names = set()
for g in yaml.safe_load(open(sys.argv[1]))["groups"]:
    for r in g["rules"]:
        names.update(re.findall(r"\b(dossiersync_[a-z_]+|up)\b(?=[{\[)\s]|$)", r["expr"]))
# Per partition, created by the first loss (DossierSyncEventStreamLost handles their absence).
names -= {"dossiersync_sync_stream_lost_total", "dossiersync_intake_topic_resets_total"}
print("\n".join(sorted(names)))' "$RUN/rules.yaml")
[ "$missing" = 0 ] || { echo "$missing expressions returned no series" >&2; exit 1; }
echo "every dashboard expression and alert input returns series"


#!/usr/bin/env bash
# Reconciliation run time at scale: the README demo with N dossiers (default 100,000, about 5
# changes each) through intake, Kafka (devbroker) and the sync to the simulator, then a full
# reconciliation with repair (`dossierctl reconcile --repair`) and a second, clean one. Prints
# each run's wall time, dossiers per second, drift found, and the services' peak resident memory.
# Usage: bash bench/reconciliation.sh [DOSSIERS]   (the default RelWithDebInfo build, -O2)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
export DEMO_DOSSIERS=$N
LOG=$(mktemp)
start=$(date +%s)
bash scripts/run-local.sh >"$LOG" 2>&1 || { tail -30 "$LOG"; exit 1; }
RUN=.run
duration() {  # seconds between started_at and finished_at of the run on line 1 of $1
  awk 'NR == 1' "$1" | python3 -c '
import json, sys
from datetime import datetime
r = json.loads(sys.stdin.read())
f = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
d = (f(r["finished_at"]) - f(r["started_at"])).total_seconds()
n = int(r["dossiers_checked"])
print("%.1f s for %d dossiers (%.0f/s), drift %s" % (d, n, n / d, r.get("drift_by_kind", {})))'
}
echo "== reconciliation at $N dossiers ($(nproc) cores; whole script $(( $(date +%s) - start )) s)"
grep -E 'changes accepted|submit to all-in-sync|dropped silently' "$LOG"
echo "   run 1 (with repair):  $(duration $RUN/reconcile1.jsonl)"
echo "   run 2 (after repair): $(duration $RUN/reconcile2.jsonl)"
for svc in intake sync reconciliation; do
  peak=$(grep -o '"peak_rss_mb":[0-9.]*' "$RUN/$svc.log" | tail -1 | cut -d: -f2 || true)
  [ -n "$peak" ] && echo "   $svc peak RSS: $peak MB"
done
grep -E '^== reconciliation:' "$LOG"

# Sourced by scripts/run-local.sh and bench/*.sh: starts the local stack (devbroker, dvcqg-sim,
# dossier-intake, dossier-sync, dossier-reconciliation) on SQLite with fixed local ports, and
# helpers to read its metrics. Set before calling stack_start:
#   BIN (binaries), RUN (an empty working directory), PARTITIONS (devbroker partitions per topic),
#   optional SIM_FLAGS / INTAKE_FLAGS / SYNC_FLAGS / RECON_FLAGS (extra flags, word-split),
#   optional SERVICES (default "sim intake sync reconciliation"; the devbroker always starts;
#   "console" adds dossier-console on 127.0.0.1:8090, CONSOLE_FLAGS its extra flags).
# stack_start sets BROKERS and DVCQG_URL, appends every pid to PIDS and registers stack_stop on
# EXIT. Ports: intake 50051 / 9101, sync 50052 / 9102, reconciliation 50053 / 9103, sim 8580.

PIDS=()
stack_stop() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}

# The number after "key": in JSON text on stdin, or empty (never fails the script under pipefail).
json_num() { { grep -o "\"$1\":[0-9.e-]*" || true; } | awk -F: 'NR == 1 {print $2}'; }
# The sum of every sample of a metric family at a metrics port.
metric_sum() { curl -s "127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m || index($1, m "{") == 1 {s += $2} END {print s + 0}'; }

wait_for_file() {
  for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done
  echo "timed out waiting for $1" >&2; return 1
}
wait_serving() {  # name log
  for _ in $(seq 200); do grep -q '"msg":"serving"' "$2" && return 0; sleep 0.1; done
  echo "$1 did not start:" >&2; tail "$2" >&2; return 1
}

has_service() { [[ " ${SERVICES:-sim intake sync reconciliation} " == *" $1 "* ]]; }

# The pid of a started service (devbroker, dvcqg-sim, intake, sync, reconciliation).
declare -A PID_OF=()

stack_start() {
  trap stack_stop EXIT
  "$BIN/devbroker" --partitions="$PARTITIONS" --bootstrap_file="$RUN/bootstrap" --control_file="$RUN/control" \
    >"$RUN/devbroker.log" 2>&1 &
  PIDS+=($!)
  PID_OF[devbroker]=$!
  wait_for_file "$RUN/bootstrap"
  BROKERS=$(cat "$RUN/bootstrap")
  has_service sim && {
    # shellcheck disable=SC2086
    "$BIN/dvcqg-sim" --listen=127.0.0.1:8580 --database="sqlite:$RUN/dvcqg-sim.db" --url_file="$RUN/dvcqg_url" \
      ${SIM_FLAGS:-} >"$RUN/dvcqg-sim.log" 2>&1 &
    PIDS+=($!)
    PID_OF[dvcqg-sim]=$!
    wait_for_file "$RUN/dvcqg_url"
    DVCQG_URL=$(cat "$RUN/dvcqg_url")
    printf 'username=langson\npassword=langson-dev-password\n' >"$RUN/dvcqg-credentials"
    chmod 600 "$RUN/dvcqg-credentials"
  }
  has_service intake && {
    # shellcheck disable=SC2086
    "$BIN/dossier-intake" --allow_insecure --kafka_brokers="$BROKERS" --database="sqlite:$RUN/intake.db" \
      --listen=127.0.0.1:50051 --metrics_listen=127.0.0.1:9101 ${INTAKE_FLAGS:-} >"$RUN/intake.log" 2>&1 &
    PIDS+=($!)
    PID_OF[intake]=$!
    wait_serving intake "$RUN/intake.log"
  }
  has_service sync && {
    # shellcheck disable=SC2086
    "$BIN/dossier-sync" --allow_insecure --kafka_brokers="$BROKERS" --database="sqlite:$RUN/sync.db" \
      --listen=127.0.0.1:50052 --metrics_listen=127.0.0.1:9102 \
      --dvcqg_url="$DVCQG_URL" --dvcqg_credentials_file="$RUN/dvcqg-credentials" ${SYNC_FLAGS:-} \
      >"$RUN/sync.log" 2>&1 &
    PIDS+=($!)
    PID_OF[sync]=$!
    wait_serving sync "$RUN/sync.log"
    for _ in $(seq 200); do grep -q '"msg":"partitions assigned"' "$RUN/sync.log" && break; sleep 0.1; done
  }
  has_service reconciliation && {
    # shellcheck disable=SC2086
    "$BIN/dossier-reconciliation" --allow_insecure --kafka_brokers="$BROKERS" \
      --database="sqlite:$RUN/reconciliation.db" --listen=127.0.0.1:50053 --metrics_listen=127.0.0.1:9103 \
      --intake_addr=127.0.0.1:50051 --dvcqg_url="$DVCQG_URL" \
      --dvcqg_credentials_file="$RUN/dvcqg-credentials" ${RECON_FLAGS:-} >"$RUN/reconciliation.log" 2>&1 &
    PIDS+=($!)
    PID_OF[reconciliation]=$!
    wait_serving reconciliation "$RUN/reconciliation.log"
  }
  # The web console (not in the default SERVICES): operators sign in with the token in
  # $RUN/console-operator-token.
  has_service console && {
    openssl rand -hex 16 >"$RUN/console-operator-token"
    chmod 600 "$RUN/console-operator-token"
    printf 'operator operator %s\n' "$(cat "$RUN/console-operator-token")" >"$RUN/console-tokens"
    chmod 600 "$RUN/console-tokens"
    # shellcheck disable=SC2086
    "$BIN/dossier-console" --allow_insecure --listen=127.0.0.1:8090 \
      --auth_tokens_file="$RUN/console-tokens" ${CONSOLE_FLAGS:-} >"$RUN/console.log" 2>&1 &
    PIDS+=($!)
    PID_OF[console]=$!
    wait_serving console "$RUN/console.log"
  }
  return 0
}

# Waits (up to $1 seconds) until the outbox is empty, the sync has nothing pending or unread and
# the simulator holds $2 dossiers (0: any).
wait_in_sync() {
  local deadline=$(( $(date +%s) + $1 )) national pending lag backlog
  while [ "$(date +%s)" -lt "$deadline" ]; do
    backlog=$(metric_sum 9101 dossiersync_intake_outbox_backlog)
    pending=$(metric_sum 9102 dossiersync_sync_pending_changes)
    lag=$(metric_sum 9102 dossiersync_sync_consumer_lag)
    # The simulator's count is three COUNT(*) scans (a third of its CPU when polled every 0.25 s
    # during a backfill of 879,100 dossiers): asked only once the pipeline has drained.
    if [ "$backlog" = 0 ] && [ "$pending" = 0 ] && [ "$lag" = 0 ]; then
      [ "$2" = 0 ] && return 0
      national=$(curl -s 127.0.0.1:8580/admin/stats | json_num dossiers)
      [ "${national:-0}" = "$2" ] && return 0
    fi
    sleep 0.25
  done
  return 1
}

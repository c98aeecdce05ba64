#!/usr/bin/env bash
# Builds the unit tests, the storage tests (SQLite and PostgreSQL), the intake gRPC and Kafka tests
# the sync and reconciliation end-to-end suites, the dossier timeline and the console's HTTP tests
# (with the service binaries they start as child processes) with AddressSanitizer +
# UndefinedBehaviorSanitizer and runs them; any sanitizer report, from a test or from a child
# process, fails the script. The build is the fuzzers' clang build (scripts/lib/clang-asan.sh,
# build-fuzz/): the test command runs this after scripts/fuzz.sh, which compiled the libraries
# already, so only the test binaries and services are added (SKIP_SANITIZE=1 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/clang-asan.sh
BUILD_DIR=$ASAN_BUILD_DIR
TESTS=(common_test validator_test transitions_test drift_test dvcqg_mapping_test workload_test score_test
       storage_test intake_grpc_test intake_kafka_test sync_e2e_test reconciliation_e2e_test
       timeline_e2e_test console_test)
configure_clang_asan
echo "== building ${#TESTS[@]} test binaries with ASan + UBSan"
cmake --build "$BUILD_DIR" -j "${BUILD_JOBS:-2}" --target "${TESTS[@]}" dossier-intake dossier-sync \
  dossier-reconciliation dossierctl >/dev/null
# Reports of the tests and of every child process they start land in one directory.
REPORTS=$(pwd)/$BUILD_DIR/sanitizer-reports
rm -rf "$REPORTS" && mkdir -p "$REPORTS"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$REPORTS/asan
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$REPORTS/ubsan
# Cases left to the plain ctest run: they spend most of their time waiting (a minute of DVCQG
# down, slow or held-up calls, a partition held back, the breaker's every outage, SIGKILLs) and
# the code paths they reach run in the other cases here too. About 3.5 minutes of CI.
declare -A SKIP=(
  [sync_e2e_test]="*DvcqgDownForAMinute*:*ASlowDvcqgHoldsUp*:*SigkillMidLoad*:*BreakerRecoveryTest*"
  [reconciliation_e2e_test]="*AQueuedDossierBehindANewerPush*"
)
failed=0
for t in "${TESTS[@]}"; do
  log="$BUILD_DIR/$t.log"
  rc=0
  filter=()
  [ -n "${SKIP[$t]:-}" ] && filter=(--gtest_filter="-${SKIP[$t]}")
  "$BUILD_DIR/bin/$t" "${filter[@]}" >"$log" 2>&1 || rc=$?
  reports=$(cat "$REPORTS"/* 2>/dev/null | grep -c 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:' || true)
  echo "   $t: exit $rc, $(grep -E '^\[  PASSED  \]' "$log" | head -1 | sed 's/\[  PASSED  \] //') sanitizer reports: $reports"
  if [ "$rc" != 0 ] || [ "$reports" != 0 ]; then
    grep -E 'Failure' -A10 "$log" | head -40 >&2
    cat "$REPORTS"/* 2>/dev/null | head -80 >&2
    rm -f "$REPORTS"/*
    failed=1
  fi
done
exit $failed

#!/usr/bin/env bash
# ThreadSanitizer over the concurrent parts: the outbox relay and intake's write batching
# (intake_kafka_test), the sync engine with its workers, consumer and rebalances (sync_e2e_test)
# and the reconciliation runner with its lease, bounded queue and evidence consumer
# (reconciliation_e2e_test), plus the storage pool. Built in build-tsan/ with gcc's TSan; Debian's
# abseil is not instrumented, so our calls into absl::Mutex and absl::Notification are annotated
# (common/tsan_absl.cc). Any TSan report fails the script. The test command runs it after the
# ASan + UBSan run (SKIP_TSAN=1 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${TSAN_BUILD_DIR:-build-tsan}
# test binary, gtest filter (TSan runs 5-15x slower: the heaviest cases are left to the other runs)
RUNS=(
  "storage_test:*"
  "intake_kafka_test:*"
  "sync_e2e_test:*TwoHundredDossiers*:*Converges*:*TwoInstances*:*BrokerFaults*:*OperatorPause*"
  "reconciliation_e2e_test:*FindsInjectedDrift*:*ServiceRunsOverGrpc*:*TwoReplicasNeverRunAtOnce*"
)
TARGETS=(storage_test intake_kafka_test sync_e2e_test reconciliation_e2e_test dossier-intake
         dossier-sync dossier-reconciliation)
cmake -S . -B "$BUILD_DIR" -DDS_SANITIZE_THREAD=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
echo "== building ${#TARGETS[@]} targets with ThreadSanitizer"
cmake --build "$BUILD_DIR" -j "${BUILD_JOBS:-2}" --target "${TARGETS[@]}" >/dev/null
# Reports of the tests and of every child process they start land in one directory.
REPORTS=$(pwd)/$BUILD_DIR/tsan-reports
rm -rf "$REPORTS" && mkdir -p "$REPORTS"
export TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 suppressions=$(pwd)/scripts/tsan.supp log_path=$REPORTS/tsan"
failed=0
for run in "${RUNS[@]}"; do
  t=${run%%:*}
  filter=${run#*:}
  log="$BUILD_DIR/$t.log"
  rc=0
  DS_TEST_BACKEND=sqlite "$BUILD_DIR/bin/$t" --gtest_filter="$filter" >"$log" 2>&1 || rc=$?
  reports=$(cat "$REPORTS"/* 2>/dev/null | grep -c 'WARNING: ThreadSanitizer' || true)
  echo "   $t: exit $rc, $(grep -E '^\[  PASSED  \]' "$log" | head -1 | sed 's/\[  PASSED  \] //') TSan reports: $reports"
  if [ "$rc" != 0 ] || [ "$reports" != 0 ]; then
    grep -E 'Failure' -A10 "$log" | head -40 >&2
    cat "$REPORTS"/* 2>/dev/null | head -150 >&2
    mkdir -p "$REPORTS/../tsan-failed" && mv "$REPORTS"/* "$REPORTS/../tsan-failed/" 2>/dev/null || true
    failed=1
  fi
done
exit $failed

#!/usr/bin/env bash
# ThreadSanitizer, built in build-tsan/ with gcc's TSan. Debian's abseil, gRPC and librdkafka are
# not instrumented: our calls into absl::Mutex and absl::Notification are annotated, librdkafka's
# C11 threads are started through pthread_create (common/tsan_absl.cc), the orderings gRPC
# guarantees between a server's start, its calls and its shutdown are annotated (common/server.cc),
# and reports inside those libraries are suppressed (scripts/tsan.supp).
# First the canary (tests/tsan_canary.cc) proves the run can fail: its racy cases must be
# reported and its synchronised ones must not. Then the suites: the storage layer (pools, leases,
# concurrent writers), the outbox relay (intake_kafka_test), the sync engine (sync_e2e_test) and
# the reconciliation runner (reconciliation_e2e_test). Any report fails the script.
# The test command runs it (SKIP_TSAN=1 skips it); TSAN_QUICK=1 runs the canary and storage only.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${TSAN_BUILD_DIR:-build-tsan}
# test binary, gtest filter (TSan runs 5-15x slower: the heaviest cases are left to the other runs)
RUNS=("storage_test:*")
TARGETS=(tsan_canary storage_test)
if [ "${TSAN_QUICK:-0}" != 1 ]; then
  RUNS+=(
    "intake_kafka_test:*"
    "sync_e2e_test:*TwoHundredDossiers*:*Converges*:*TwoInstances*:*BrokerFaults*:*OperatorPause*"
    "reconciliation_e2e_test:*FindsInjectedDrift*:*ServiceRunsOverGrpc*:*TwoReplicasNeverRunAtOnce*"
  )
  TARGETS+=(intake_kafka_test sync_e2e_test reconciliation_e2e_test dossier-intake dossier-sync
            dossier-reconciliation dossierctl)
fi
# -O1 -g1 (line tables): symbolized reports with file and line at about 30 % less compile time
# than -O2 -g, which matters on a 2-core CI machine building everything again.
cmake -S . -B "$BUILD_DIR" -DDS_SANITIZE_THREAD=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  >/dev/null
echo "== building ${#TARGETS[@]} targets with ThreadSanitizer"
cmake --build "$BUILD_DIR" -j "${BUILD_JOBS:-2}" --target "${TARGETS[@]}" >/dev/null
# Reports of the tests and of every child process they start land in one directory.
REPORTS=$(pwd)/$BUILD_DIR/tsan-reports
rm -rf "$REPORTS" && mkdir -p "$REPORTS"
export TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 suppressions=$(pwd)/scripts/tsan.supp log_path=$REPORTS/tsan"
failed=0
# The canary: case, expected outcome.
for c in race:reported mutex:clean await:clean notification:clean c11_thread:reported; do
  case_name=${c%%:*}
  want=${c#*:}
  rc=0
  "$BUILD_DIR/bin/tsan_canary" "$case_name" >/dev/null 2>&1 || rc=$?
  reports=$(cat "$REPORTS"/* 2>/dev/null | grep -c 'WARNING: ThreadSanitizer' || true)
  got=clean
  [ "$reports" != 0 ] && got=reported
  # exit 66 is TSan's exit code after a report; anything else nonzero is a failure (a crash).
  if [ "$got" != "$want" ] || { [ "$rc" != 0 ] && [ "$rc" != 66 ]; }; then
    echo "   canary $case_name: expected $want, got $got (exit $rc)" >&2
    { cat "$REPORTS"/* 2>/dev/null || true; } | head -60 >&2
    failed=1
  fi
  rm -f "$REPORTS"/*
done
[ "$failed" = 0 ] && echo "   canary: races reported (plain and on a C11 thread), synchronised cases clean"
for run in "${RUNS[@]}"; do
  t=${run%%:*}
  filter=${run#*:}
  log="$BUILD_DIR/$t.log"
  rc=0
  "$BUILD_DIR/bin/$t" --gtest_filter="$filter" >"$log" 2>&1 || rc=$?
  reports=$(cat "$REPORTS"/* 2>/dev/null | grep -c 'WARNING: ThreadSanitizer' || true)
  echo "   $t: exit $rc, $(grep -E '^\[  PASSED  \]' "$log" | head -1 | sed 's/\[  PASSED  \] //') TSan reports: $reports"
  if [ "$rc" != 0 ] || [ "$reports" != 0 ]; then
    { grep -E 'Failure' -A10 "$log" || true; } | head -40 >&2
    { cat "$REPORTS"/* 2>/dev/null || true; } | head -150 >&2
    mkdir -p "$REPORTS/../tsan-failed" && mv "$REPORTS"/* "$REPORTS/../tsan-failed/" 2>/dev/null || true
    failed=1
  fi
done
exit $failed

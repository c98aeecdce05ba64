#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan; the build scripts/sanitize.sh shares,
# scripts/lib/clang-asan.sh) in build-fuzz/ and runs each for
# FUZZ_SECONDS (default 20) from the committed seeds in fuzz/corpus/ (inputs it finds go to
# build-fuzz/corpus/). A crash, a leak or a sanitizer report fails the script and leaves the input
# in build-fuzz/ (crash-*, leak-*). .ci/run runs it after the tests.
# Usage: bash scripts/fuzz.sh [target ...]   (validator dvcqg_json kafka_message)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/clang-asan.sh
BUILD_DIR=$ASAN_BUILD_DIR
SECS=${FUZZ_SECONDS:-20}
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(validator dvcqg_json kafka_message)
configure_clang_asan
# Every library too: this clang build is where Abseil's lock annotations are checked
# (-Wthread-safety as errors, CMakeLists.txt's ds_warnings); a guarded field touched without its
# mutex fails here.
echo "== clang build of every library (thread-safety analysis) and the fuzz targets"
cmake --build "$BUILD_DIR" -j "${BUILD_JOBS:-2}" --target ds_log ds_observability ds_grpc \
  ds_storage ds_kafka ds_dvcqg ds_intake_rules ds_intake ds_sync ds_reconciliation ds_devbroker \
  ds_dvcqg_sim $(printf '%s_fuzz ' "${TARGETS[@]}") \
  >"$BUILD_DIR/build.log" 2>&1 || { grep -E 'error|warning' -A3 "$BUILD_DIR/build.log" | head -60 >&2; exit 1; }
for t in "${TARGETS[@]}"; do
  mkdir -p "$BUILD_DIR/corpus/$t" "$BUILD_DIR/artifacts"
  echo "== fuzzing $t for ${SECS}s"
  log="$BUILD_DIR/artifacts/${t}.log"
  rc=0
  "$BUILD_DIR/bin/${t}_fuzz" -max_total_time="$SECS" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$BUILD_DIR/artifacts/${t}-" \
    "$BUILD_DIR/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::new_units_added|==[0-9]+==ERROR|SUMMARY)' "$log" || true
  if [ "$rc" != 0 ]; then
    tail -40 "$log" >&2
    echo "fuzz target $t failed (exit $rc); the input is in $BUILD_DIR/artifacts/" >&2
    exit 1
  fi
done

# Sourced by scripts/fuzz.sh and scripts/sanitize.sh: both use one clang build with ASan + UBSan
# (and libFuzzer's coverage instrumentation) in $ASAN_BUILD_DIR (default build-fuzz/), so the
# libraries are compiled once for the fuzz targets, the thread-safety analysis and the sanitized
# test binaries. -O2 -g1: line tables are all a report needs, at less compile time than -g.
ASAN_BUILD_DIR=${ASAN_BUILD_DIR:-${FUZZ_BUILD_DIR:-build-fuzz}}
configure_clang_asan() {
  if [ ! -f "$ASAN_BUILD_DIR/CMakeCache.txt" ]; then
    CC=clang CXX=clang++ cmake -S . -B "$ASAN_BUILD_DIR" -DDS_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
      -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" >/dev/null
  fi
}

#!/usr/bin/env bash
# README command 2: installs what is missing, builds, runs every test (ctest), then a short run
# of each fuzz target (scripts/fuzz.sh, FUZZ_SECONDS each, default 20; SKIP_FUZZ=1 skips it) and
# the ASan + UBSan build of the unit, storage, intake, sync and reconciliation tests
# (scripts/sanitize.sh; SKIP_SANITIZE=1 skips it) and the ThreadSanitizer build of the storage,
# relay, sync-engine and reconciliation-runner suites after a canary that proves it reports races
# (scripts/tsan.sh; SKIP_TSAN=1 skips it). ctest includes the
# short chaos run (label chaos); `bash scripts/chaos.sh` is the full one.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/format.sh --check
bash scripts/build.sh
# The console's browser test drives Debian's chromium through puppeteer-core (npm, once).
bash tests/lib/browser_tools.sh
pg_dirs() { find /tmp -maxdepth 1 -name 'dossiersync-pg-*' 2>/dev/null | sort; }
pg_before=$(pg_dirs)
(cd "${BUILD_DIR:-build}" && ctest -j "${TEST_JOBS:-2}" --output-on-failure --timeout 600 "$@")
# The PostgreSQL suites start their own server in /tmp/dossiersync-pg-*: none may stay behind.
left=$(comm -13 <(echo "$pg_before") <(pg_dirs))
if [ -n "$left" ]; then
  echo "tests left PostgreSQL data directories behind:" $left >&2
  exit 1
fi
if [ "${SKIP_FUZZ:-0}" != "1" ]; then
  bash scripts/fuzz.sh
fi
if [ "${SKIP_SANITIZE:-0}" != "1" ]; then
  bash scripts/sanitize.sh
fi
if [ "${SKIP_TSAN:-0}" != "1" ]; then
  bash scripts/tsan.sh
fi

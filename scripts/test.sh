#!/usr/bin/env bash
# README command 2: installs what is missing, builds, and runs every test (ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest -j "${TEST_JOBS:-2}" --output-on-failure --timeout 600 "$@"

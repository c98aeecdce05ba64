#!/usr/bin/env bash
# Installs the browser tests' driver once: puppeteer-core (from the npm registry; it drives
# Debian's chromium and downloads no browser) under ${BUILD_DIR:-build}/tools.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${BUILD_DIR:-build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
TOOLS=$B/tools
if [ ! -f "$TOOLS/node_modules/puppeteer-core/package.json" ]; then
  mkdir -p "$TOOLS"
  PUPPETEER_SKIP_DOWNLOAD=1 npm install --prefix "$TOOLS" --no-audit --no-fund --silent \
    puppeteer-core@24.43.1 >/dev/null
fi

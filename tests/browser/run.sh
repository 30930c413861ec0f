#!/usr/bin/env bash
# CTest entry of the dashboard's browser test (dashboard_test.js).
#   tests/browser/run.sh ENSWEEP_BINARY BUILD_DIR
# Installs playwright-core (the version package-lock.json pins) into tests/browser/node_modules
# when missing. Exits 77 (skipped) with a SKIPPED: line when chromium, node or npm is missing:
# scripts/setup.sh --test installs them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ensweep=$1
build=$2
chromium=${ENSWEEP_CHROMIUM:-/usr/bin/chromium}
for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIPPED: dashboard browser test: no $tool (scripts/setup.sh --test installs it)"
    exit 77
  fi
done
if [[ ! -x "$chromium" ]]; then
  echo "SKIPPED: dashboard browser test: no $chromium (scripts/setup.sh --test installs chromium)"
  exit 77
fi
want=$(node -e "console.log(require('$here/package-lock.json').packages['node_modules/playwright-core'].version)")
have=$(node -e "try { console.log(require('$here/node_modules/playwright-core/package.json').version) } catch (e) { console.log('none') }")
if [[ "$want" != "$have" ]]; then
  echo "installing playwright-core $want into $here/node_modules"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
exec node "$here/dashboard_test.js" "$ensweep" "$build/tests/browser/work" \
  "$build/tests/browser/screenshots"

#!/usr/bin/env bash
# Electronegativity (Doyensec's static checker for the Electron security checklist) over src/.
#
#   tools/electronegativity/run.sh                      # from anywhere; report in test-artifacts/
#   ENG_FAIL_ON=medium tools/electronegativity/run.sh   # stricter gate
#
# Fetches @doyensec/electronegativity@1 with `npx --yes` (needs the npm registry: ~25 s the first
# time, ~12 s cached). The tool itself always exits 0; scan.mjs (its Node API) writes the CSV and
# exits 1 when a finding at or above ENG_FAIL_ON (default: high) is not in accepted-findings.json,
# where a finding is accepted only if check, file and quoted source line all match a reviewed entry.
# Exit codes: 0 clean, 1 unaccepted finding(s), 2 the scan itself failed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export ENG_INPUT="${ENG_INPUT:-src}"
export ENG_OUTPUT="${ENG_OUTPUT:-test-artifacts/electronegativity.csv}"
export ENG_FAIL_ON="${ENG_FAIL_ON:-high}"
export ENG_ACCEPTED="$root/tools/electronegativity/accepted-findings.json"

# src/ has no package.json, so say which Electron ships (the tool would assume v0.1.0).
ENG_ELECTRON="$(npx --no-install node -p "require('./node_modules/electron/package.json').version" 2>/dev/null || true)"
if [[ -z "$ENG_ELECTRON" ]]; then
  ENG_ELECTRON="$(npx --no-install node -p "require('./package.json').devDependencies.electron.replace(/^[^0-9]*/, '')")"
fi
export ENG_ELECTRON

echo "electronegativity: scanning $ENG_INPUT/ (Electron $ENG_ELECTRON)"
rm -f "$ENG_OUTPUT"
# Offline, its Electron release-list lookup prints "No connectivity?"; every check still runs.
npx --yes -p @doyensec/electronegativity@1 -c \
  'ENG_PKG="$(cd "$(dirname "$(readlink -f "$(command -v electronegativity)")")/.." && pwd)" node tools/electronegativity/scan.mjs'

#!/usr/bin/env bash
# Installs the pinned JS SDK (tests/js/package-lock.json) into tests/js/node_modules when the lock file
# changed since the last install. Used by the JS SDK compatibility tests.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/tests/js"
if ! command -v npm >/dev/null 2>&1; then
  echo "bootstrap-js: npm not found on PATH; install Node.js >= 18 (with npm) to run the JS SDK tests" >&2
  exit 1
fi
stamp="$dir/node_modules/.intone-installed"
want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  (cd "$dir" && npm ci --no-audit --no-fund >&2)
  echo "$want" > "$stamp"
fi

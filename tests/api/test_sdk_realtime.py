"""The SDK's realtime text to speech (`convert_realtime`), unchanged, against a plain `intone serve`.

`convert_realtime` always connects with wss:// to the base URL's host and port, even when the base URL
is http://. A loopback server accepts TLS on its one port beside plain HTTP, with its local CA, which the
client process trusts through SSL_CERT_FILE (as the server's start-up line and the README say); the
same client's plain-HTTP requests keep working on that port. The SDK runs in a subprocess so that the
variable applies to it alone.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.server import Server, serving

pytestmark = pytest.mark.slow

BRIAN = "nPczCjzI2devNBz1zQrb"  # an American man: Piper speaks him on the fast models
MODEL = "eleven_flash_v2_5"
TEXT = (
    "Sure, here is a quick answer. The birch canoe slid on the smooth planks, and it was sunny. "
    "Glue the sheet to the dark blue background!"
)
BYTES_PER_SECOND = 16_000 * 2  # pcm_16000: 16-bit mono

# Runs in the client process: speaks `text` split into LLM-like tokens (a word with its leading space,
# or one punctuation mark) and writes the audio to argv[3]; on an error prints the class and status.
CLIENT = """
import re, sys
from elevenlabs.client import ElevenLabs

url, voice, out, text, model = sys.argv[1:6]

def tokens():
    yield from re.findall(r"\\s?\\w+|[^\\w\\s]", text)

client = ElevenLabs(base_url=url)
try:
    audio = b"".join(client.text_to_speech.convert_realtime(
        voice_id=voice, text=tokens(), model_id=model, output_format="pcm_16000"
    ))
except Exception as error:
    print(type(error).__name__, getattr(error, "status_code", None))
    sys.exit(3)
open(out, "wb").write(audio)
print("bytes", len(audio), "models", len(client.models.list()))  # plain HTTP from the same client
"""


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory) -> Iterator[tuple[Server, Path]]:
    """A default `intone serve` (http://), and the local CA it accepts TLS with on the same port."""
    data = tmp_path_factory.mktemp("intone-realtime")
    with serving(data) as running:
        assert running.url.startswith("http://")
        ca = data / "tls" / "ca.pem"
        assert f"SSL_CERT_FILE={ca}" in running.log_text()  # the trust line, printed once
        assert running.log_text().count("SSL_CERT_FILE") == 1
        yield running, ca


def _realtime(server: Server, ca: Path, voice: str, out: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SSL_CERT_FILE": str(ca), "ELEVENLABS_API_KEY": server.api_key}
    return subprocess.run(
        [sys.executable, "-c", CLIENT, server.url, voice, str(out), TEXT, MODEL],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_tokens_look_like_an_llm_stream():
    pieces = re.findall(r"\s?\w+|[^\w\s]", TEXT)
    assert "".join(pieces) == TEXT
    assert " canoe" in pieces and "," in pieces


def test_convert_realtime_speaks_streamed_tokens(tls_server, tmp_path):
    server, ca = tls_server
    out = tmp_path / "realtime.pcm"
    done = _realtime(server, ca, BRIAN, out)
    # The SDK returns only once the server has closed with 1000, so exit 0 means a clean end.
    assert done.returncode == 0, done.stdout + done.stderr
    assert int(done.stdout.split()[3]) > 5
    audio = out.read_bytes()
    assert len(audio) % 2 == 0 and audio.strip(b"\0")
    realtime = len(audio) / BYTES_PER_SECOND

    # The same port, plain HTTP.
    with httpx.Client(timeout=120, headers=server.headers) as client:
        response = client.post(
            f"{server.url}/v1/text-to-speech/{BRIAN}",
            params={"output_format": "pcm_16000"},
            json={"text": TEXT, "model_id": MODEL},
        )
    assert response.status_code == 200, response.text
    whole = len(response.content) / BYTES_PER_SECOND
    assert 5 < whole < 15  # about 130 characters of English
    # Spoken in segments the pauses differ a little, but the length must match the same text at once.
    assert abs(realtime - whole) <= 0.25 * whole, (realtime, whole)


def test_unknown_voice_raises_api_error_1008(tls_server, tmp_path):
    server, ca = tls_server
    done = _realtime(server, ca, "NoSuchVoice000000000", tmp_path / "none.pcm")
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stdout.split() == ["ApiError", "1008"], done.stdout + done.stderr
    assert not (tmp_path / "none.pcm").exists()

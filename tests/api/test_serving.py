"""`intone serve` as a process: probes, docs, TLS, disconnects and a graceful stop."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time

import httpx
import pytest

from intone.audio.formats import parse_output_format
from intone.tls import ensure_self_signed
from tests.api.server import create_key, serving
from tests.audio.test_encoders import decode

pytestmark = pytest.mark.slow

BRIAN = "nPczCjzI2devNBz1zQrb"  # an American man: Piper speaks him on the fast models
LONG = " ".join(
    f"Sentence number {n} goes on for a little while, so that it takes time to say." for n in range(40)
)


def test_probes_and_docs(server):
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/ready").json() == {"status": "ready"}
    page = httpx.get(f"{server.url}/docs").text
    assert "swagger-ui-bundle.js" in page and "cdn." not in page  # served from here, works offline
    script = page.split('<script src="', 1)[1].split('"', 1)[0]
    assert httpx.get(f"{server.url}{script}").status_code == 200
    schema = httpx.get(f"{server.url}/openapi.json").json()
    assert "/v1/text-to-speech/{voice_id}/stream/with-timestamps" in schema["paths"]


def test_the_server_measures_its_engines_speed_once_warm(server):
    """Admission weighs requests by each engine's speed; the server times Kokoro and Piper after its
    warm-up, since machines differ by twice in speed."""
    pattern = re.compile(r"(kokoro|piper): ([0-9.]+) s of engine time per second of audio")
    deadline = time.monotonic() + 60
    while len(found := dict(pattern.findall(server.log_text()))) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert set(found) == {"kokoro", "piper"}, server.log_text()
    assert 0.001 < float(found["piper"]) < float(found["kokoro"]) < 5


def test_every_response_has_a_request_id(server):
    ids = {
        httpx.get(f"{server.url}{path}", headers=server.headers).headers["request-id"]
        for path in ("/health", "/v1/models", "/nope")
    }
    assert len(ids) == 3


def test_client_that_disconnects_frees_its_slot_and_logs_no_crash(server):
    with httpx.Client(base_url=server.url, timeout=60, headers=server.headers) as client:
        with client.stream(
            "POST",
            f"/v1/text-to-speech/{BRIAN}/stream",
            json={"text": LONG, "model_id": "eleven_multilingual_v2"},
        ) as response:
            assert response.status_code == 200
            next(response.iter_bytes())  # the first chunk arrived; now hang up
        # The abandoned request gives its slot back: the next one is alone again.
        deadline = time.monotonic() + 20
        while True:
            probe = client.post(
                f"/v1/text-to-speech/{BRIAN}", json={"text": "Hi.", "model_id": "eleven_flash_v2"}
            )
            if probe.headers["current-concurrent-requests"] == "1" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert probe.headers["current-concurrent-requests"] == "1"
    assert "Traceback" not in server.log_text()


def test_a_client_that_leaves_before_its_audio_is_not_charged(server):
    key = create_key({**os.environ, "INTONE_DATA_DIR": str(server.log.parent)}, "leaver")

    def used() -> int:
        response = httpx.get(f"{server.url}/v1/user/subscription", headers={"xi-api-key": key})
        return response.json()["character_count"]

    # A whole file sends nothing until the end, so the client holds the connection open while the
    # charge is checked, then hangs up.
    body = json.dumps({"text": LONG, "model_id": "eleven_multilingual_v2"}).encode()
    address = httpx.URL(server.url)
    with socket.create_connection((address.host, address.port)) as connection:
        connection.sendall(
            f"POST /v1/text-to-speech/{BRIAN} HTTP/1.1\r\nHost: {address.host}\r\n"
            f"xi-api-key: {key}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        deadline = time.monotonic() + 30
        while used() != len(LONG) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert used() == len(LONG)  # charged while it runs
    deadline = time.monotonic() + 60
    while used() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert used() == 0  # given back once the server saw the client go


def test_graceful_stop_lets_a_stream_finish(tmp_path):
    with serving(tmp_path) as running:
        text = "A stream that is still running when the server is told to stop. " * 4
        with (
            httpx.Client(base_url=running.url, timeout=60, headers=running.headers) as client,
            client.stream(
                "POST",
                f"/v1/text-to-speech/{BRIAN}/stream",
                params={"output_format": "pcm_22050"},
                json={"text": text, "model_id": "eleven_flash_v2"},
            ) as response,
        ):
            pieces = response.iter_bytes()
            audio = next(pieces)
            running.process.send_signal(signal.SIGTERM)
            audio += b"".join(pieces)
        decoded = decode(audio, parse_output_format("pcm_22050"))
        assert len(decoded.samples) / decoded.sample_rate > 8  # all four sentences, not a cut stream
        # uvicorn re-raises the signal once shut down, so a graceful stop still ends "killed by SIGTERM".
        assert running.process.wait(30) in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in running.log_text()


def test_self_signed_tls_serves_the_sdk(tmp_path):
    with serving(tmp_path, "--tls-self-signed", scheme="https") as running:
        assert "SSL_CERT_FILE" in running.log_text()
        script = (
            "import sys\n"
            "from elevenlabs.client import ElevenLabs\n"
            "client = ElevenLabs(base_url=sys.argv[1])\n"
            "print(len(client.models.list()))\n"
        )
        env = {
            **os.environ,
            "SSL_CERT_FILE": str(tmp_path / "tls" / "ca.pem"),
            "ELEVENLABS_API_KEY": running.api_key,
        }
        done = subprocess.run(
            [sys.executable, "-c", script, running.url], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert int(done.stdout) > 5
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{running.url}/health")  # not trusted without the CA
        # Asked for TLS, the port serves no plain HTTP: a plain request is told to use https://.
        plain = httpx.get(running.url.replace("https://", "http://") + "/health")
        assert plain.status_code == 400 and plain.json()["detail"]["status"] == "tls_required"


def test_serves_tls_with_a_given_certificate(tmp_path):
    files = ensure_self_signed(tmp_path / "tls", ["127.0.0.1"])  # stands in for an operator's own files
    with serving(
        tmp_path, "--ssl-certfile", str(files.cert), "--ssl-keyfile", str(files.key), scheme="https"
    ) as running:
        verify = ssl.create_default_context(cafile=files.ca_cert)
        assert httpx.get(f"{running.url}/health", verify=verify).json() == {"status": "ok"}
        assert "SSL_CERT_FILE" not in running.log_text()  # nothing self-signed was announced


def test_several_workers_share_one_port(tmp_path):
    with serving(tmp_path, "--workers", "2") as running:
        with httpx.Client(base_url=running.url, timeout=60, headers=running.headers) as client:
            for _ in range(4):
                response = client.post(
                    f"/v1/text-to-speech/{BRIAN}", json={"text": "Hi.", "model_id": "eleven_flash_v2"}
                )
                assert response.status_code == 200
        assert running.log_text().count("Started server process") == 2

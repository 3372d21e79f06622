"""A server whose Redis does not answer: not ready, and a clear 503 for every request that needs Redis,
never a 500; ready again, by itself, once Redis is back."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from elevenlabs.client import ElevenLabs
from elevenlabs.core.api_error import ApiError

from tests.api.server import INTONE, Server, create_key, free_port

pytestmark = pytest.mark.slow

REDIS_SERVER = shutil.which("redis-server")


@contextmanager
def started(data_dir: Path, redis_url: str) -> Iterator[Server]:
    """A server on SQLite with Redis for its gates and tokens, once it answers /health (its /ready may
    well say 503: that is what these tests look at)."""
    port = free_port()
    log = data_dir / f"server-{port}.log"
    env = {**os.environ, "INTONE_DATA_DIR": str(data_dir), "INTONE_REDIS_URL": redis_url}
    env["INTONE_WARM_UP"] = "false"
    api_key = create_key(env, "tests", tier="enterprise")
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(INTONE), "serve", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    server = Server(process, f"http://127.0.0.1:{port}", log, api_key, env)
    try:
        _until(lambda: _health(server), "the server never answered /health", server)
        yield server
    finally:
        server.stop()


def _health(server: Server) -> bool:
    try:
        return httpx.get(f"{server.url}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _ready(server: Server) -> httpx.Response:
    return httpx.get(f"{server.url}/ready", timeout=10)


def _until(check: Callable[[], bool], failure: str, server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert server.process.poll() is None, f"the server exited:\n{server.log_text()}"
        assert time.monotonic() < deadline, f"{failure}:\n{server.log_text()}"
        time.sleep(0.2)


def _used(server: Server) -> int:
    usage = httpx.get(f"{server.url}/v1/user/subscription", headers=server.headers, timeout=10).json()
    return usage["character_count"]


def _assert_redis_down(server: Server) -> None:
    """/ready and a synthesis both say 503, the latter in the ElevenLabs shape, naming Redis; nothing
    is charged for it."""
    ready = _ready(server)
    assert ready.status_code == 503, ready.text
    assert ready.json() == {"status": "redis_unavailable"}
    used = _used(server)
    client = ElevenLabs(base_url=server.url, api_key=server.api_key)
    with pytest.raises(ApiError) as error:
        b"".join(client.text_to_speech.convert("Brian", text="Hello there.", model_id="eleven_flash_v2"))
    assert error.value.status_code == 503, error.value.body
    detail = error.value.body["detail"]
    assert detail["status"] == "service_unavailable"
    assert "Redis" in detail["message"] and "operator" in detail["message"]
    token = httpx.post(f"{server.url}/v1/single-use-token/tts_websocket", headers=server.headers, timeout=10)
    assert token.status_code == 503, token.text
    assert token.json()["detail"]["status"] == "service_unavailable"
    assert _used(server) == used  # the credits charged for the failed synthesis came back


def test_a_server_whose_redis_does_not_answer_starts_not_ready_and_answers_503(tmp_path):
    # A password in the URL, to check that the log line leaves it out.
    url = f"redis://intone:hunter2@127.0.0.1:{free_port()}/0"  # nothing listens there
    with started(tmp_path, url) as server:
        _assert_redis_down(server)
        log = server.log_text()
        assert "Redis at redis://intone:[redacted]@127.0.0.1" in log and "does not answer" in log
        assert "hunter2" not in log
        assert "Traceback" not in log


@pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")
def test_a_server_turns_not_ready_while_its_redis_is_away_and_ready_once_it_is_back(tmp_path):
    port = free_port()

    def redis_server() -> subprocess.Popen[bytes]:
        assert REDIS_SERVER is not None
        process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                ["redis-cli", "-p", str(port), "ping"], capture_output=True, check=False
            ).stdout.strip()
            != b"PONG"
        ):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)
        return process

    redis = redis_server()
    try:
        with started(tmp_path, f"redis://127.0.0.1:{port}/0") as server:
            _until(lambda: _ready(server).status_code == 200, "never ready with Redis up", server)
            client = ElevenLabs(base_url=server.url, api_key=server.api_key)
            assert b"".join(client.text_to_speech.convert("Brian", text="Hi.", model_id="eleven_flash_v2"))

            redis.kill()
            redis.wait()
            _assert_redis_down(server)

            redis = redis_server()
            _until(lambda: _ready(server).status_code == 200, "not ready again once Redis was back", server)
            assert b"".join(client.text_to_speech.convert("Brian", text="Hi.", model_id="eleven_flash_v2"))
            assert "Traceback" not in server.log_text()
    finally:
        redis.kill()
        redis.wait()

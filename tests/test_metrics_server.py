"""A real server, driven by the official SDK, counts what it did in GET /metrics and writes it to its JSON
log: one server for both, since starting one costs seconds."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from elevenlabs import ElevenLabs
from elevenlabs.core.api_error import ApiError
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from tests.api.server import Server, serving
from tests.api.ws import BRIAN, drain, errors, receive, run, send, ws_url

pytestmark = pytest.mark.slow

TEXT = "Counting this."
TTS_ROUTE = "/v1/text-to-speech/{voice_id}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # One socket per key, so that a second one is a cheap 429.
    env = {"INTONE_WARM_UP": "false", "INTONE_MAX_SOCKETS_PER_KEY": "1"}
    with serving(tmp_path_factory.mktemp("intone-metrics"), "--log-format", "json", env=env) as running:
        yield running


@pytest.fixture(scope="module")
def traffic(server: Server) -> str:
    """Speech through the SDK, a wrong key, and a socket over its key's cap; the request-id of one more
    request made with httpx (whose headers the test can read)."""
    client = ElevenLabs(base_url=server.url, api_key=server.api_key)
    audio = b"".join(client.text_to_speech.convert(BRIAN, text=TEXT, model_id="eleven_flash_v2"))
    assert audio
    with pytest.raises(ApiError) as refused:
        ElevenLabs(base_url=server.url, api_key="sk_wrong").voices.get_all()
    assert refused.value.status_code == 401

    async def two_sockets() -> list[dict[str, object]]:
        url = ws_url(server.url, "stream-input", model_id="eleven_flash_v2")
        headers = {"xi-api-key": server.api_key}
        async with connect(url, additional_headers=headers) as first:
            # Audio back: the first socket holds its key's one place.
            await send(first, {"text": " "}, {"text": "Hi. ", "flush": True})
            assert await receive(first, 20) is not None
            async with connect(url, additional_headers=headers) as second:
                await send(second, {"text": " "})
                return await drain(second)

    [too_many] = errors(run(two_sockets()))
    assert too_many["error"] == "too_many_open_sockets"
    reply = httpx.get(f"{server.url}/v1/models", headers=server.headers)
    assert reply.status_code == 200
    return reply.headers["request-id"]


def _samples(server: Server) -> dict[str, list[tuple[dict[str, str], float]]]:
    reply = httpx.get(f"{server.url}/metrics")
    assert reply.status_code == 200, reply.text
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def _value(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(value for found, value in samples.get(name, []) if labels.items() <= found.items())


def test_real_requests_are_counted(server: Server, traffic: str):
    samples = _samples(server)
    assert _value(samples, "intone_http_requests_total", route=TTS_ROUTE, method="POST", status="200") == 1
    assert _value(samples, "intone_http_requests_total", route="/v1/voices", status="401") == 1
    assert _value(samples, "intone_speech_time_to_first_byte_seconds_count", model="eleven_flash_v2") == 1
    assert _value(samples, "intone_speech_duration_seconds_count", model="eleven_flash_v2") == 1
    assert _value(samples, "intone_queue_wait_seconds_count", tier="enterprise") >= 1
    assert _value(samples, "intone_engine_seconds_total", engine="piper") > 0
    assert _value(samples, "intone_engine_audio_seconds_total", engine="piper") > 0
    assert _value(samples, "intone_engine_real_time_factor_count", engine="piper") >= 1
    # eleven_flash_v2 costs half a credit a character; the socket spoke a few more.
    assert _value(samples, "intone_characters_charged_total") >= len(TEXT) / 2
    assert _value(samples, "intone_too_many_requests_total", reason="too_many_open_sockets") == 1


def test_metrics_from_another_machine_need_a_token(server: Server):
    # The server only listens on loopback; a proxy in front of it says so with its forwarding header.
    reply = httpx.get(f"{server.url}/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert reply.status_code == 401
    assert reply.json()["detail"]["status"] == "unauthorized"


def test_the_json_log_has_a_line_per_request_with_its_ids_and_never_the_key(server: Server, traffic: str):
    text = server.log_text()
    assert server.api_key not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    access = [line for line in lines if line["logger"] == "intone.access"]
    [models] = [line for line in access if line.get("request_id") == traffic]
    assert models["route"] == "/v1/models" and models["status"] == 200
    assert models["key_id"].startswith("key_")
    assert models["duration_ms"] >= 0
    [speech] = [line for line in access if line.get("route") == TTS_ROUTE]
    assert speech["model"] == "eleven_flash_v2" and speech["key_id"] == models["key_id"]
    assert 0 < speech["ttfb_ms"] <= speech["duration_ms"]
    # uvicorn's own records are JSON too; its access line gives way to the one with timings.
    assert any(line["logger"].startswith("uvicorn") for line in lines)
    assert not any(line["logger"] == "uvicorn.access" for line in lines)

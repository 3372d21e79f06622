"""Booleans and numbers as the wire contract has them: `"yes"` is no boolean, `true` no number, and an
integer in a query string (or a page token) is written in ASCII digits. What the SDKs send still works:
an integer where a decimal is expected, query booleans as `true`/`false`. All is refused before any
synthesis, so these run through the ASGI app."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from intone.app import create_app
from intone.config import Settings

BRIAN = "nPczCjzI2devNBz1zQrb"
SPEECH = {"text": "Hi.", "model_id": "eleven_flash_v2"}
SETTINGS_EDIT = f"/v1/voices/{BRIAN}/settings/edit"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("strict"), warm_up=False, auth="off")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "body",
    [
        {"voice_settings": {"speed": True}},
        {"voice_settings": {"stability": "0.5"}},
        {"voice_settings": {"use_speaker_boost": "yes"}},
        {"voice_settings": {"use_speaker_boost": 1}},
        {"seed": True},
        {"seed": 5.0},
        {"seed": "5"},
        {"use_pvc_as_ivc": "yes"},
        {"apply_language_text_normalization": 0},
    ],
)
def test_a_speech_body_with_a_loosely_typed_field_is_refused(client: TestClient, body: dict[str, Any]):
    response = client.post(f"/v1/text-to-speech/{BRIAN}", json=SPEECH | body)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("body", [{"stability": True}, {"speed": "1"}, {"use_speaker_boost": "true"}])
def test_a_settings_edit_with_a_loosely_typed_field_is_refused(client: TestClient, body: dict[str, Any]):
    assert client.post(SETTINGS_EDIT, json=body).status_code == 422


def test_settings_may_be_integers_or_decimals(client: TestClient):
    body = {"stability": 1, "similarity_boost": 0, "style": 0.25, "speed": 1, "use_speaker_boost": False}
    assert client.post(SETTINGS_EDIT, json=body).json() == {"status": "ok"}
    settings = client.get(f"/v1/voices/{BRIAN}/settings").json()
    assert (settings["stability"], settings["speed"], settings["use_speaker_boost"]) == (1.0, 1.0, False)


@pytest.mark.parametrize(
    "query",
    [
        "page_size=%EF%BC%95",  # full-width 5
        "page_size=+5",
        "page_size=%205",
        "page_size=5.0",
        "page_size=1_0",
        f"next_page_token={_token('１０')}",
        f"next_page_token={_token(' 10')}",
        f"next_page_token={_token('010')}",
        f"next_page_token={_token('10')}!!",  # the decoder would skip what is not base64
        f"next_page_token={_token('9' * 5000)}",
    ],
)
def test_voice_pages_are_numbered_in_ascii_digits(client: TestClient, query: str):
    response = client.get(f"/v2/voices?{query}")
    assert response.status_code in (400, 422), response.text


def test_a_page_token_handed_out_works(client: TestClient):
    first = client.get("/v2/voices?page_size=5&include_total_count=true").json()
    assert first["has_more"]
    second = client.get(f"/v2/voices?page_size=5&next_page_token={first['next_page_token']}").json()
    assert second["voices"] and second["voices"][0] != first["voices"][0]


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/v1/history", "page_size=%EF%BC%92"),
        ("/v1/history", "date_after_unix=+5"),
        (f"/v1/text-to-speech/{BRIAN}", "optimize_streaming_latency=%EF%BC%91"),
        (f"/v1/text-to-speech/{BRIAN}", "optimize_streaming_latency=%201"),
    ],
)
def test_integer_query_parameters_are_ascii_digits(client: TestClient, path: str, query: str):
    if path == "/v1/history":
        response = client.get(f"{path}?{query}")
    else:
        response = client.post(f"{path}?{query}", json=SPEECH)
    assert response.status_code == 422, response.text


def test_query_booleans_as_the_sdks_write_them(client: TestClient):
    assert client.get("/v1/voices?show_legacy=true").status_code == 200
    assert client.get("/v2/voices?include_total_count=false&page_size=2").status_code == 200
    assert client.get("/v1/history?page_size=2").status_code == 200


def _socket_refusal(client: TestClient, query: str, first: dict[str, Any]) -> dict[str, Any]:
    with client.websocket_connect(f"/v1/text-to-speech/{BRIAN}/stream-input?{query}") as ws:
        ws.send_json(first)
        return ws.receive_json()


@pytest.mark.parametrize(
    "first",
    [
        {"text": " ", "flush": "yes"},
        {"text": " ", "try_trigger_generation": 1},
        {"text": " ", "voice_settings": {"speed": True}},
        {"text": " ", "generation_config": {"chunk_length_schedule": [True, 120]}},
    ],
)
def test_a_socket_message_with_a_loosely_typed_field_is_refused(client: TestClient, first: dict[str, Any]):
    refused = _socket_refusal(client, "model_id=eleven_flash_v2", first)
    assert refused["error"] == "invalid_message", refused


@pytest.mark.parametrize("query", ["inactivity_timeout=+20", "inactivity_timeout=2_0", "seed=%205"])
def test_socket_integer_parameters_are_ascii_digits(client: TestClient, query: str):
    refused = _socket_refusal(client, f"model_id=eleven_flash_v2&{query}", {"text": " "})
    assert refused["error"] == "invalid_request", refused

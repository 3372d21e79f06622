"""Who may call what, through the ASGI app (no server, no synthesis): scopes per endpoint, the local
account of a server with authentication off, and how realtime sockets find their key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from intone.accounts.scopes import DEFAULT_SCOPES, Scope, grants
from intone.api import stream_input
from intone.app import create_app
from intone.config import Settings

BRIAN = "nPczCjzI2devNBz1zQrb"  # an American man: Piper speaks him on the fast models
SPEECH = {"text": "Hi.", "model_id": "eleven_flash_v2"}
SOCKET = f"/v1/text-to-speech/{BRIAN}/stream-input?model_id=eleven_flash_v2"
MULTI_SOCKET = f"/v1/text-to-speech/{BRIAN}/multi-stream-input?model_id=eleven_flash_v2"
DIALOGUE = {"inputs": [{"text": "Hi.", "voice_id": BRIAN}], "model_id": "eleven_flash_v2"}
DIALOGUE_FORMS = ("", "/stream", "/with-timestamps", "/stream/with-timestamps")

# One request per endpoint and the scope it needs. Each is refused before it would do anything.
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, Scope]] = [
    ("POST", f"/v1/text-to-speech/{BRIAN}", SPEECH, Scope.TEXT_TO_SPEECH),
    ("POST", f"/v1/text-to-speech/{BRIAN}/stream", SPEECH, Scope.TEXT_TO_SPEECH),
    ("POST", f"/v1/text-to-speech/{BRIAN}/with-timestamps", SPEECH, Scope.TEXT_TO_SPEECH),
    ("POST", f"/v1/text-to-speech/{BRIAN}/stream/with-timestamps", SPEECH, Scope.TEXT_TO_SPEECH),
    ("POST", "/v1/single-use-token/tts_websocket", None, Scope.TEXT_TO_SPEECH),
    *(("POST", f"/v1/text-to-dialogue{form}", DIALOGUE, Scope.TEXT_TO_SPEECH) for form in DIALOGUE_FORMS),
    ("POST", "/v1/speech-to-text", None, Scope.SPEECH_TO_TEXT),
    ("POST", "/v1/single-use-token/realtime_scribe", None, Scope.SPEECH_TO_TEXT),
    ("GET", "/v1/models", None, Scope.MODELS_READ),
    ("GET", "/v1/voices", None, Scope.VOICES_READ),
    ("GET", "/v2/voices", None, Scope.VOICES_READ),
    ("GET", f"/v1/voices/{BRIAN}", None, Scope.VOICES_READ),
    ("POST", f"/v1/voices/{BRIAN}/settings/edit", {"stability": 0.4}, Scope.VOICES_WRITE),
    ("GET", "/v1/user", None, Scope.USER_READ),
    ("GET", "/v1/user/subscription", None, Scope.USER_READ),
    ("GET", "/v1/history", None, Scope.HISTORY_READ),
    ("GET", "/v1/history/nothing", None, Scope.HISTORY_READ),
    ("GET", "/v1/history/nothing/audio", None, Scope.HISTORY_READ),
    ("POST", "/v1/history/download", {"history_item_ids": ["nothing"]}, Scope.HISTORY_READ),
    ("DELETE", "/v1/history/nothing", None, Scope.HISTORY_WRITE),
    ("GET", "/admin/keys", None, Scope.ADMIN),
]


def _client(tmp_path: Path, auth: str) -> TestClient:
    return TestClient(create_app(Settings(data_dir=tmp_path, warm_up=False, auth=auth)))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with _client(tmp_path, "required") as test_client:
        yield test_client


@pytest.fixture
def local(tmp_path: Path) -> Iterator[TestClient]:
    with _client(tmp_path, "off") as test_client:
        yield test_client


def _key(client: TestClient, scopes: frozenset[Scope] = DEFAULT_SCOPES) -> str:
    _, secret = client.app.state.services.store.keys.create("test", scopes, None, "pro")
    return secret


def _status(response: Any) -> tuple[int, str | None]:
    detail = response.json().get("detail")
    return response.status_code, detail.get("status") if isinstance(detail, dict) else None


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS, ids=lambda v: str(v))
def test_each_endpoint_needs_its_scope(client, method, path, body, scope):
    without = _key(client, frozenset(Scope) - {scope, *_implying(scope)})
    refused = client.request(method, path, json=body, headers={"xi-api-key": without})
    assert _status(refused) == (403, "missing_permissions"), refused.text
    assert scope.value in refused.json()["detail"]["message"]
    if scope is not Scope.TEXT_TO_SPEECH:  # the others answer without synthesizing
        allowed = client.request(
            method, path, json=body, headers={"xi-api-key": _key(client, frozenset({scope}))}
        )
        assert allowed.status_code not in (401, 403), allowed.text


def _implying(scope: Scope) -> set[Scope]:
    return {other for other in Scope if other is not scope and grants(frozenset({other}), scope)}


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS, ids=lambda v: str(v))
def test_each_endpoint_refuses_a_missing_or_unknown_key(client, method, path, body, scope):
    for headers in ({}, {"xi-api-key": "sk_" + "0" * 48}):
        response = client.request(method, path, json=body, headers=headers)
        assert _status(response) == (401, "invalid_api_key"), response.text


def test_the_local_account_cannot_manage_keys(local):
    assert _status(local.get("/admin/keys")) == (403, "missing_permissions")
    assert _status(local.post("/admin/keys", json={"name": "x", "scopes": ["admin"]})) == (
        403,
        "missing_permissions",
    )
    assert local.get("/v1/models").status_code == 200


def test_a_single_use_token_of_the_local_account_opens_a_socket_once(local):
    token = local.post("/v1/single-use-token/tts_websocket").json()["token"]
    with local.websocket_connect(f"{SOCKET}&single_use_token={token}") as ws:
        ws.send_json({"text": " "})
        ws.send_json({"text": ""})
        assert ws.receive_json() == {"audio": None, "isFinal": True}
    with local.websocket_connect(f"{SOCKET}&single_use_token={token}") as ws:
        assert ws.receive_json()["error"] == "invalid_api_key"


@pytest.mark.parametrize("route", [SOCKET, MULTI_SOCKET])
def test_a_first_message_key_works_beside_a_proxys_basic_credentials(client, route):
    key = _key(client)
    with client.websocket_connect(route, headers={"authorization": "Basic Zm9vOmJhcg=="}) as ws:
        ws.send_json({"text": " ", "xi_api_key": key})
        ws.send_json({"close_socket": True} if route == MULTI_SOCKET else {"text": ""})
        final = ws.receive_json()
        assert final["isFinal"] is True, final


def test_a_query_parameter_key_opens_a_socket(client):
    with client.websocket_connect(f"{SOCKET}&authorization=Bearer%20{_key(client)}") as ws:
        ws.send_json({"text": " "})
        ws.send_json({"text": ""})
        assert ws.receive_json()["isFinal"] is True


def test_a_socket_without_credentials_waits_briefly_for_its_key(client, monkeypatch):
    monkeypatch.setattr(stream_input, "AUTH_WAIT_S", 0.3)
    with client.websocket_connect(f"{SOCKET}&inactivity_timeout=180") as ws:
        message = ws.receive_json()
        assert message["error"] == "input_timeout_exceeded", message
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1008

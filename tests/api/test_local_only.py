"""A server with authentication off answers this machine's clients only: not a request renamed by DNS
rebinding (a foreign `Host`), nor one from another site's web page (a foreign `Origin`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from intone.app import create_app
from intone.config import Settings
from tests.api.server import Server, serving
from tests.api.ws import BRIAN, drain, errors, run, send, ws_url

FOREIGN = "http://attacker.example"
SETTINGS_EDIT = f"/v1/voices/{BRIAN}/settings/edit"


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"INTONE_AUTH": "off", "INTONE_WARM_UP": "false"}
    with serving(tmp_path_factory.mktemp("intone-auth-off"), env=env) as running:
        yield running


def _refusal(response: httpx.Response) -> str:
    assert response.status_code == 403, response.text
    detail = response.json()["detail"]
    assert detail["message"]
    return detail["status"]


@pytest.mark.parametrize(
    "host", ["attacker.example", "attacker.example:{port}", "192.168.1.7", "[::2]", "[::1"]
)
def test_a_foreign_host_is_refused(local_server: Server, host: str):
    port = local_server.url.rsplit(":", 1)[1]
    response = httpx.get(f"{local_server.url}/v1/models", headers={"Host": host.format(port=port)})
    assert _refusal(response) == "host_not_allowed"
    assert response.headers["request-id"]


@pytest.mark.parametrize(
    "host", ["localhost:{port}", "127.0.0.1", "127.1.2.3:{port}", "[::1]:{port}", "a.localhost"]
)
def test_this_machines_names_are_served(local_server: Server, host: str):
    port = local_server.url.rsplit(":", 1)[1]
    response = httpx.get(f"{local_server.url}/v1/models", headers={"Host": host.format(port=port)})
    assert response.status_code == 200


@pytest.mark.parametrize("origin", [FOREIGN, "null", "https://127.0.0.1.attacker.example"])
def test_a_request_from_another_sites_page_is_refused(local_server: Server, origin: str):
    # A POST a page may send without a CORS preflight: no content type, the JSON as it is.
    response = httpx.post(
        f"{local_server.url}{SETTINGS_EDIT}", content=b'{"stability": 0.1}', headers={"Origin": origin}
    )
    assert _refusal(response) == "origin_not_allowed"
    assert httpx.get(f"{local_server.url}/v1/voices/{BRIAN}/settings").json()["stability"] != 0.1


def test_a_page_served_from_this_machine_may_call(local_server: Server):
    response = httpx.post(
        f"{local_server.url}{SETTINGS_EDIT}", json={}, headers={"Origin": "http://localhost:3000"}
    )
    assert response.status_code == 200


def test_a_socket_from_another_sites_page_is_refused_at_the_handshake(local_server: Server):
    async def handshake() -> None:
        async with connect(ws_url(local_server.url, "stream-input"), origin=Origin(FOREIGN)):
            pass

    with pytest.raises(InvalidStatus) as refused:
        run(handshake())
    assert refused.value.response.status_code == 403
    assert json.loads(refused.value.response.body)["detail"]["status"] == "origin_not_allowed"


@pytest.mark.parametrize("origin", [None, "http://127.0.0.1:5173"])
def test_a_socket_without_a_foreign_origin_opens(local_server: Server, origin: str | None):
    async def talk() -> list[dict[str, object]]:
        url = ws_url(local_server.url, "stream-input", model_id="eleven_flash_v2")
        async with connect(url, origin=Origin(origin) if origin else None) as ws:
            await send(ws, {"text": ""})  # not a first message: answered, so the socket was open
            return await drain(ws)

    [error] = errors(run(talk()))
    assert error["error"] == "invalid_first_message"


def test_with_auth_on_any_host_and_origin_may_call(tmp_path: Path):
    with TestClient(create_app(Settings(data_dir=tmp_path, warm_up=False))) as client:
        response = client.get("/health", headers={"Host": "intone.example", "Origin": FOREIGN})
    assert response.status_code == 200

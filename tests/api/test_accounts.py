"""Keys, scopes, quotas, single-use tokens and the admin API, through the official SDK (and raw HTTP and
WebSockets where the SDK has no call) against a real server that requires keys."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
from elevenlabs.client import ElevenLabs
from elevenlabs.core.api_error import ApiError
from websockets.asyncio.client import connect

from tests.api.server import Server, create_key, serving
from tests.api.ws import audio_messages, drain, errors, receive_until, run, send, spoken, ws_url
from tests.shared_services import mode_env

pytestmark = pytest.mark.slow

BRIAN = "nPczCjzI2devNBz1zQrb"  # an American man: Piper speaks him on the fast models
FLASH = "eleven_flash_v2"
MULTILINGUAL = "eleven_multilingual_v2"


@dataclass
class Site:
    server: Server
    env: dict[str, str]
    admin: str  # a key with only the admin scope

    def key(self, name: str, *options: str, tier: str = "pro") -> str:
        return create_key(self.env, name, *options, tier=tier)

    def client(self, key: str | None) -> ElevenLabs:
        return ElevenLabs(base_url=self.server.url, api_key=key)


@pytest.fixture(scope="module", params=["embedded", "shared"])
def site(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Site]:
    """The server as one machine runs it (SQLite, in-process limits), then as a replica does (real
    PostgreSQL and Redis): every rule here must hold in both."""
    data = tmp_path_factory.mktemp(f"intone-accounts-{request.param}")
    with mode_env(request.param) as env, serving(data, env=env) as server:
        yield Site(server, server.env, create_key(server.env, "admin", "--scopes", "admin"))


def _api_error(error: pytest.ExceptionInfo[ApiError], http_status: int, status: str) -> str:
    assert error.value.status_code == http_status, error.value.body
    assert error.value.body["detail"]["status"] == status, error.value.body
    return error.value.body["detail"]["message"]


def _speak(client: ElevenLabs, text: str = "Hi.") -> bytes:
    return b"".join(
        client.text_to_speech.convert(BRIAN, text=text, model_id=FLASH, output_format="pcm_16000")
    )


def test_missing_and_wrong_keys_are_401_invalid_api_key(site):
    for key in (None, "sk_" + "0" * 48):
        with pytest.raises(ApiError) as error:
            _speak(site.client(key))
        _api_error(error, 401, "invalid_api_key")
        with pytest.raises(ApiError) as error:
            site.client(key).models.list()
        _api_error(error, 401, "invalid_api_key")


def test_a_disabled_key_is_refused_and_an_enabled_one_accepted_again(site):
    key = site.key("flaky")
    client = site.client(key)
    assert _speak(client)
    key_id = _key_id(site, "flaky")
    _admin(site, "PATCH", f"/admin/keys/{key_id}", json={"disabled": True})
    with pytest.raises(ApiError) as error:
        _speak(client)
    assert "disabled" in _api_error(error, 401, "invalid_api_key")
    _admin(site, "PATCH", f"/admin/keys/{key_id}", json={"disabled": False})
    assert _speak(client)


def test_scopes_restrict_endpoints_with_403_missing_permissions(site):
    client = site.client(site.key("reader", "--scopes", "models_read", "voices_read"))
    assert client.models.list()
    assert client.voices.search(page_size=2).voices
    with pytest.raises(ApiError) as error:
        _speak(client)
    assert "text_to_speech" in _api_error(error, 403, "missing_permissions")
    with pytest.raises(ApiError) as error:
        client.user.subscription.get()
    _api_error(error, 403, "missing_permissions")
    with pytest.raises(ApiError) as error:
        client.voices.settings.update(BRIAN, request={"stability": 0.4})
    assert "voices_write" in _api_error(error, 403, "missing_permissions")


def test_voices_write_implies_voices_read(site):
    client = site.client(site.key("editor", "--scopes", "voices_write"))
    assert client.voices.get(BRIAN).voice_id == BRIAN


def test_quota_counts_credits_and_refuses_before_synthesis(site):
    client = site.client(site.key("metered", "--character-limit", "30", tier="free"))
    # Flash costs half a credit per character: 40 characters are 20 credits.
    with client.text_to_speech.with_raw_response.convert(
        BRIAN, text="a" * 39 + ".", model_id=FLASH, output_format="pcm_16000"
    ) as response:
        assert b"".join(response.data)
        assert response.headers["character-cost"] == "20"
    subscription = client.user.subscription.get()
    assert (subscription.character_count, subscription.character_limit) == (20, 30)
    assert subscription.tier == "free"
    with pytest.raises(ApiError) as error:
        _speak(client, "b" * 39 + ".")
    message = _api_error(error, 401, "quota_exceeded")
    assert "quota of 30" in message and "10 credits remaining" in message and "20 credits" in message
    assert client.user.subscription.get().character_count == 20  # the refused request cost nothing
    assert _speak(client, "c" * 19 + ".")  # exactly the 10 credits left
    assert client.user.subscription.get().character_count == 30


def test_fifty_parallel_requests_never_overspend_a_quota(site):
    key = site.key("parallel", "--character-limit", "100", tier="enterprise")
    client = site.client(key)

    def attempt(_: int) -> str:
        try:
            _speak(client, "d" * 19 + ".")  # 10 credits each
        except ApiError as error:
            return error.body["detail"]["status"]
        return "ok"

    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(attempt, range(50)))
    assert outcomes.count("ok") == 10, outcomes
    assert outcomes.count("quota_exceeded") == 40, outcomes
    assert client.user.subscription.get().character_count == 100


def test_the_user_is_the_key(site):
    key = site.key("someone")
    user = site.client(key).user.get()
    assert user.user_id == _key_id(site, "someone")
    assert user.first_name == "someone"
    assert user.subscription.character_limit == 2**31 - 1  # no quota
    assert user.created_at > 1_700_000_000


def test_voice_settings_are_each_keys_own(site):
    editor, other = site.client(site.key("settings-editor")), site.client(site.key("settings-other"))
    defaults = other.voices.settings.get_default()

    def seeded(client: ElevenLabs) -> bytes:
        return b"".join(
            client.text_to_speech.convert(
                BRIAN, text="Hi there.", model_id=FLASH, output_format="pcm_16000", seed=3
            )
        )

    before = seeded(other)
    assert editor.voices.settings.update(BRIAN, request={"speed": 0.7, "stability": 0.9}).status == "ok"
    edited = defaults.model_copy(update={"speed": 0.7, "stability": 0.9})
    assert editor.voices.settings.get(BRIAN) == edited
    assert editor.voices.get(BRIAN).settings == edited
    assert editor.voices.search(voice_ids=[BRIAN]).voices[0].settings == edited
    # The other key reads and speaks the defaults still, in every listing.
    assert other.voices.settings.get(BRIAN) == defaults
    assert other.voices.get(BRIAN).settings == defaults
    assert {voice.settings == defaults for voice in other.voices.get_all().voices} == {True}
    assert all(voice.settings == defaults for voice in other.voices.search(voice_ids=[BRIAN]).voices)
    assert seeded(other) == before
    assert len(seeded(editor)) > len(before) * 1.2  # slower: the editor's own speed


def test_single_use_token_opens_one_socket_once(site):
    client = site.client(site.key("browser-backend"))
    token = client.tokens.single_use.create("tts_websocket").token

    async def speak(token: str) -> tuple[list[dict], int | None]:
        url = ws_url(
            site.server.url, "stream-input", model_id=FLASH, output_format="pcm_16000", single_use_token=token
        )
        async with connect(url, open_timeout=10, close_timeout=5) as ws:
            await send(ws, {"text": " "}, {"text": "Hello there. "}, {"text": ""})
            return await drain(ws), ws.close_code

    messages, code = run(speak(token))
    assert code == 1000 and any(message.get("audio") for message in messages)
    messages, code = run(speak(token))
    assert code == 1008 and messages[-1]["error"] == "invalid_api_key"


def test_a_single_use_token_is_spent_once_under_concurrent_use(site):
    client = site.client(site.key("racer"))
    token = client.tokens.single_use.create("tts_websocket").token
    url = ws_url(site.server.url, "stream-input", model_id=FLASH, single_use_token=token)

    async def opens() -> bool:
        async with connect(url, open_timeout=10, close_timeout=5) as ws:
            await send(ws, {"text": " "}, {"text": ""})
            await drain(ws)
            return ws.close_code == 1000

    async def race() -> list[bool]:
        return await asyncio.gather(*(opens() for _ in range(10)))

    assert sorted(run(race())) == [False] * 9 + [True]


def test_single_use_tokens_need_a_key_and_a_known_type(site):
    with pytest.raises(ApiError) as error:
        site.client(None).tokens.single_use.create("tts_websocket")
    _api_error(error, 401, "invalid_api_key")
    with pytest.raises(ApiError) as error:
        site.client(site.key("scribe")).tokens.single_use.create("batch_scribe")
    _api_error(error, 400, "unsupported_token_type")


@pytest.mark.parametrize("where", ["header", "bearer", "first message", "first message bearer"])
def test_websocket_keys_arrive_every_documented_way(site, where):
    key = site.key(f"ws-{where}")
    headers = {"header": {"xi-api-key": key}, "bearer": {"authorization": f"Bearer {key}"}}.get(where, {})
    first = {"text": " "}
    if where == "first message":
        first["xi-api-key"] = key
    elif where == "first message bearer":
        first["authorization"] = f"Bearer {key}"

    async def talk() -> int | None:
        url = ws_url(site.server.url, "stream-input", model_id=FLASH)
        async with connect(url, open_timeout=10, close_timeout=5, additional_headers=headers) as ws:
            await send(ws, first, {"text": "Hi. "}, {"text": ""})
            await drain(ws)
            return ws.close_code

    assert run(talk()) == 1000


@pytest.mark.parametrize("route", ["stream-input", "multi-stream-input"])
def test_websocket_without_a_valid_key_gets_a_message_then_1008(site, route):
    async def talk(headers: dict[str, str]) -> tuple[list[dict], int | None]:
        url = ws_url(site.server.url, route, model_id=FLASH)
        async with connect(url, open_timeout=10, close_timeout=5, additional_headers=headers) as ws:
            await send(ws, {"text": " "}, {"text": "Hi. "})
            return await drain(ws), ws.close_code

    for headers, status in (
        ({}, "invalid_api_key"),
        ({"xi-api-key": "sk_wrong"}, "invalid_api_key"),
        ({"xi-api-key": site.key(f"no-tts-{route}", "--scopes", "models_read")}, "missing_permissions"),
    ):
        messages, code = run(talk(headers))
        assert code == 1008, messages
        assert [message.get("error") for message in messages] == [status]


def test_admin_api_manages_keys_and_needs_the_admin_scope(site):
    created = _admin(
        site, "POST", "/admin/keys", json={"name": "via-api", "character_limit": 50, "tier": "creator"}
    )
    assert created["api_key"].startswith("sk_") and created["character_count"] == 0
    assert site.client(created["api_key"]).user.subscription.get().character_limit == 50
    listed = _admin(site, "GET", "/admin/keys")["keys"]
    entry = next(key for key in listed if key["key_id"] == created["key_id"])
    assert "api_key" not in entry and entry["hint"] == created["hint"]
    changed = _admin(site, "PATCH", f"/admin/keys/{created['key_id']}", json={"character_limit": None})
    assert changed["character_limit"] is None
    assert _admin(site, "DELETE", f"/admin/keys/{created['key_id']}") == {"status": "ok"}
    with pytest.raises(ApiError) as error:
        site.client(created["api_key"]).models.list()
    _api_error(error, 401, "invalid_api_key")
    missing = httpx.get(
        f"{site.server.url}/admin/keys/{created['key_id']}", headers={"xi-api-key": site.admin}
    )
    assert missing.status_code == 404 and missing.json()["detail"]["status"] == "api_key_not_found"
    refused = httpx.get(f"{site.server.url}/admin/keys", headers=site.server.headers)
    assert refused.status_code == 403 and refused.json()["detail"]["status"] == "missing_permissions"
    bad = httpx.post(
        f"{site.server.url}/admin/keys",
        headers={"xi-api-key": site.admin},
        json={"name": "x", "tier": "gold"},
    )
    assert bad.status_code == 422


def _admin(site: Site, method: str, path: str, **kwargs: object) -> dict:
    response = httpx.request(method, f"{site.server.url}{path}", headers={"xi-api-key": site.admin}, **kwargs)
    assert response.status_code in (200, 201), response.text
    return response.json()


def _key_id(site: Site, name: str) -> str:
    keys = _admin(site, "GET", "/admin/keys")["keys"]
    return next(key["key_id"] for key in keys if key["name"] == name)


def test_secrets_are_never_listed_or_logged(site):
    token = site.client(site.server.api_key).tokens.single_use.create("tts_websocket").token

    async def use() -> None:
        url = ws_url(site.server.url, "stream-input", model_id=FLASH, single_use_token=token)
        async with connect(url, open_timeout=10, close_timeout=5) as ws:
            await send(ws, {"text": " "}, {"text": ""})
            await drain(ws)

    run(use())
    listing = json.dumps(_admin(site, "GET", "/admin/keys"))
    log = site.server.log_text()
    for secret in (site.admin, site.server.api_key, token):
        assert secret not in listing and secret not in log


def test_logged_generations_reach_the_history_and_unlogged_ones_do_not(site):
    client = site.client(site.key("historian"))
    with client.text_to_speech.with_raw_response.convert(
        BRIAN, text="Keep this one.", model_id=FLASH, output_format="mp3_44100_128"
    ) as response:
        audio = b"".join(response.data)
        request_id = response.headers["request-id"]
    b"".join(
        client.text_to_speech.convert(BRIAN, text="Forget this one.", model_id=FLASH, enable_logging=False)
    )
    page = client.history.list()
    assert [item.text for item in page.history] == ["Keep this one."]
    item = page.history[0]
    assert (item.history_item_id, item.request_id, item.voice_id, item.model_id) == (
        request_id,
        request_id,
        BRIAN,
        FLASH,
    )
    assert item.character_count_change_to - item.character_count_change_from == 7
    assert b"".join(client.history.get_audio(request_id)) == audio
    assert site.client(site.key("stranger")).history.list().history == []  # one key's history only


def test_request_ids_stitch_earlier_texts_and_unknown_ones_are_refused(site):
    client = site.client(site.key("stitcher"))

    def normalized(text: str, **context: object) -> str:
        timed = client.text_to_speech.convert_with_timestamps(BRIAN, text=text, model_id=FLASH, **context)
        return "".join(timed.normalized_alignment.characters)

    with client.text_to_speech.with_raw_response.convert(
        BRIAN, text="It happened in", model_id=FLASH
    ) as first:
        b"".join(first.data)
        earlier = first.headers["request-id"]
    # "1984" after "in" reads as a year: the earlier text is the context, as previous_text would be.
    assert normalized("1984.", previous_request_ids=[earlier]) == normalized(
        "1984.", previous_text="It happened in"
    )
    assert normalized("1984.", previous_request_ids=[earlier]) != normalized("1984.")
    # The ids win over previous_text, as ElevenLabs documents.
    assert normalized("1984.", previous_request_ids=[earlier], previous_text="Page") == normalized(
        "1984.", previous_text="It happened in"
    )
    assert normalized("Then.", next_request_ids=[earlier], next_text="ignored")
    for field in ("previous_request_ids", "next_request_ids"):
        with pytest.raises(ApiError) as error:
            normalized("1984.", **{field: [earlier, "nope"]})
        assert (
            "nope" in _api_error(error, 400, "invalid_request_ids")
            and field in error.value.body["detail"]["message"]
        )
    # Another key's generations are not this key's context.
    with pytest.raises(ApiError) as error:
        site.client(site.key("outsider")).text_to_speech.convert_with_timestamps(
            BRIAN, text="1984.", model_id=FLASH, previous_request_ids=[earlier]
        )
    _api_error(error, 400, "invalid_request_ids")


def test_streams_are_charged_report_the_keys_concurrency_and_reach_the_history(site):
    client = site.client(site.key("streamer", "--character-limit", "100", tier="creator"))
    with client.text_to_speech.with_raw_response.stream(
        BRIAN, text="Streamed speech.", model_id=FLASH, output_format="mp3_44100_128"
    ) as response:
        audio = b"".join(response.data)
        headers = response.headers
    assert headers["character-cost"] == "8"  # 16 characters at half a credit
    assert (headers["current-concurrent-requests"], headers["maximum-concurrent-requests"]) == ("1", "10")
    with client.text_to_speech.with_raw_response.stream_with_timestamps(
        BRIAN,
        text="Timed speech here.",
        model_id=MULTILINGUAL,
        output_format="pcm_16000",
        enable_logging=False,
    ) as response:
        assert list(response.data)
        assert response.headers["character-cost"] == "18"
        assert response.headers["maximum-concurrent-requests"] == "5"
    assert client.user.subscription.get().character_count == 26
    history = client.history.list().history
    assert [item.text for item in history] == ["Streamed speech."]
    assert b"".join(client.history.get_audio(history[0].history_item_id)) == audio


def test_a_socket_is_charged_per_segment_and_ends_at_its_quota(site):
    key = site.key("socket-quota", "--character-limit", "12", tier="free")

    async def talk() -> tuple[list[dict], list[dict], int | None]:
        url = ws_url(site.server.url, "stream-input", model_id=FLASH, output_format="pcm_16000")
        async with connect(
            url, open_timeout=10, close_timeout=5, additional_headers={"xi-api-key": key}
        ) as ws:
            await send(ws, {"text": " "}, {"text": "Hello there. ", "flush": True})
            first = await receive_until(ws, lambda got: any(m.get("audio") for m in got), timeout=30)
            await send(ws, {"text": "This sentence costs more than what is left. ", "flush": True})
            return first, await drain(ws, timeout=30), ws.close_code

    first, rest, code = run(talk(), timeout=60)
    assert audio_messages(first)
    assert code == 1008 and [message["error"] for message in errors(rest)] == ["quota_exceeded"]
    assert "costs" not in spoken(first + rest)  # nothing was synthesized for the refused segment
    used = site.client(key).user.subscription.get().character_count
    assert 0 < used <= 12


def test_a_socket_stops_when_its_key_is_disabled_meanwhile(site):
    key = site.key("socket-disabled")

    async def talk() -> tuple[list[dict], int | None]:
        url = ws_url(site.server.url, "stream-input", model_id=FLASH, output_format="pcm_16000")
        async with connect(
            url, open_timeout=10, close_timeout=5, additional_headers={"xi-api-key": key}
        ) as ws:
            await send(ws, {"text": " "}, {"text": "Hello there. ", "flush": True})
            await receive_until(ws, lambda got: any(m.get("audio") for m in got), timeout=30)
            await asyncio.to_thread(
                _admin,
                site,
                "PATCH",
                f"/admin/keys/{_key_id(site, 'socket-disabled')}",
                json={"disabled": True},
            )
            await send(ws, {"text": "And one more thing. ", "flush": True})
            return await drain(ws, timeout=30), ws.close_code

    rest, code = run(talk(), timeout=60)
    assert code == 1008 and [message["error"] for message in errors(rest)] == ["invalid_api_key"]
    assert "thing" not in spoken(rest)

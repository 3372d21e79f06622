"""Inputs at the edges of what can be spoken or stored: text with nothing to speak, NUL characters,
quotas beyond what a database integer holds. Each runs on SQLite and on PostgreSQL, and checks that
the credits charged and the history agree."""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from elevenlabs.client import ElevenLabs
from elevenlabs.core.api_error import ApiError
from websockets.asyncio.client import connect

from tests.api.server import INTONE, Server, create_key, serving
from tests.api.ws import audio_messages, drain, errors, run, send, spoken, ws_url
from tests.shared_services import mode_env

pytestmark = pytest.mark.slow

BRIAN = "nPczCjzI2devNBz1zQrb"  # an American man: Piper speaks him on the fast models
FLASH = "eleven_flash_v2"
BIGINT_MAX = 2**63 - 1
# Nothing a voice could say: emoji, zero-width characters, control characters, NUL.
NOTHING_TO_SPEAK = ["😀🎉", "\u200b\u200d\ufeff", "\x01\x07\x1b", "\x00", "\x00 😀 \u200b"]


@dataclass
class Site:
    server: Server
    admin: str  # a key with only the admin scope

    def client(self, key: str) -> ElevenLabs:
        return ElevenLabs(base_url=self.server.url, api_key=key)

    def admin_request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        return httpx.request(method, f"{self.server.url}{path}", headers={"xi-api-key": self.admin}, **kwargs)


@pytest.fixture(scope="module", params=["embedded", "shared"])
def site(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Site]:
    """SQLite, then PostgreSQL with Redis."""
    data = tmp_path_factory.mktemp(f"intone-edges-{request.param}")
    with mode_env(request.param) as env, serving(data, env=env) as server:
        yield Site(server, create_key(server.env, "admin", "--scopes", "admin"))


def _routes(client: ElevenLabs) -> dict[str, Callable[[str], object]]:
    """Each text-to-speech endpoint, called through the SDK and read to the end."""
    tts = client.text_to_speech
    options = {"model_id": FLASH, "output_format": "pcm_16000", "language_code": "en"}
    return {
        "convert": lambda text: b"".join(tts.convert(BRIAN, text=text, **options)),
        "stream": lambda text: b"".join(tts.stream(BRIAN, text=text, **options)),
        "with-timestamps": lambda text: tts.convert_with_timestamps(BRIAN, text=text, **options),
        "stream/with-timestamps": lambda text: list(tts.stream_with_timestamps(BRIAN, text=text, **options)),
    }


def _ledger(client: ElevenLabs) -> tuple[int, list[tuple[str, int, int]]]:
    """Credits used, and each history item's text and the credits it says it took."""
    used = client.user.subscription.get().character_count
    items = client.history.list(page_size=1000).history
    return used, [
        (item.text or "", item.character_count_change_from or 0, item.character_count_change_to or 0)
        for item in items
    ]


def _agree(client: ElevenLabs) -> list[tuple[str, int, int]]:
    """The history, after checking that it accounts for every credit charged, with no overlaps."""
    used, items = _ledger(client)
    ranges = sorted((start, end) for _, start, end in items)
    assert sum(end - start for start, end in ranges) == used, items
    assert all(end <= start for (_, end), (start, _) in itertools.pairwise(ranges)), ranges
    return items


@pytest.mark.parametrize("route", ["convert", "stream", "with-timestamps", "stream/with-timestamps"])
def test_text_with_nothing_to_speak_is_text_empty_and_free(site: Site, route: str) -> None:
    key = create_key(site.server.env, f"silent-{route}")
    client = site.client(key)
    for text in NOTHING_TO_SPEAK:
        with pytest.raises(ApiError) as error:
            _routes(client)[route](text)
        assert error.value.status_code == 400, (text, error.value.body)
        assert error.value.body["detail"]["status"] == "text_empty"
    assert _ledger(client) == (0, [])
    _routes(client)[route]("Hi.")  # a request right after is charged and kept as usual
    assert [text for text, _, _ in _agree(client)] == ["Hi."]


@pytest.mark.parametrize("route", ["convert", "stream"])
def test_nul_is_dropped_from_the_text_before_it_is_charged_and_kept(site: Site, route: str) -> None:
    client = site.client(create_key(site.server.env, f"nul-{route}"))
    _routes(client)[route]("Hi\x00 there.\x00")
    _routes(client)[route]("Bye.")
    assert sorted(text for text, _, _ in _agree(client)) == ["Bye.", "Hi there."]
    # "Hi there." and "Bye." on flash at half a credit a character: 5 + 2, NULs not counted.
    assert client.user.subscription.get().character_count == 7


def test_a_socket_segment_with_nothing_to_speak_is_skipped_uncharged(site: Site) -> None:
    key = create_key(site.server.env, "silent-socket")
    url = ws_url(site.server.url, "stream-input", model_id=FLASH, output_format="pcm_16000")

    async def talk(*texts: str) -> list[dict]:
        async with connect(url, additional_headers={"xi-api-key": key}) as ws:
            messages = [{"text": text, "flush": True} for text in texts]
            assert await send(ws, {"text": " "}, *messages, {"text": ""})
            return await drain(ws)

    for text in NOTHING_TO_SPEAK:
        messages = run(talk(text))
        assert errors(messages) == [] and audio_messages(messages) == [], text
    assert site.client(key).user.subscription.get().character_count == 0
    messages = run(talk("😀 ", "Hi. "))
    assert spoken(messages).strip() == "Hi."
    assert site.client(key).user.subscription.get().character_count == 2


def test_admin_keys_refuse_unstorable_names_and_find_no_such_ids(site: Site) -> None:
    for name in ("a\x00b", "\x00"):
        created = site.admin_request("POST", "/admin/keys", json={"name": name})
        assert created.status_code == 422, created.text
        assert created.json()["detail"][0]["loc"] == ["body", "name"]
    key_id = site.admin_request("POST", "/admin/keys", json={"name": "plain"}).json()["key_id"]
    renamed = site.admin_request("PATCH", f"/admin/keys/{key_id}", json={"name": "x\x00"})
    assert renamed.status_code == 422, renamed.text
    for method, body in (("GET", None), ("PATCH", {"disabled": True}), ("DELETE", None)):
        missing = site.admin_request(method, f"/admin/keys/{key_id}%00", json=body)
        assert missing.status_code == 404, missing.text
        assert missing.json()["detail"]["status"] == "api_key_not_found"
    listed = site.admin_request("GET", "/admin/keys")
    assert listed.status_code == 200 and "plain" in [key["name"] for key in listed.json()["keys"]]


def test_a_character_limit_beyond_the_databases_integers_is_422(site: Site) -> None:
    for limit in (2**63, 10**30):
        created = site.admin_request("POST", "/admin/keys", json={"name": "huge", "character_limit": limit})
        assert created.status_code == 422, created.text
        assert created.json()["detail"][0]["loc"] == ["body", "character_limit"]
    created = site.admin_request("POST", "/admin/keys", json={"name": "big", "character_limit": BIGINT_MAX})
    assert created.status_code == 201, created.text
    assert created.json()["character_limit"] == BIGINT_MAX
    changed = site.admin_request(
        "PATCH", f"/admin/keys/{created.json()['key_id']}", json={"character_limit": 2**63}
    )
    assert changed.status_code == 422, changed.text
    # The largest quota works as a quota: a request is charged against it.
    client = site.client(created.json()["api_key"])
    b"".join(client.text_to_speech.convert(BRIAN, text="Hi.", model_id=FLASH, output_format="pcm_16000"))
    assert client.user.subscription.get().character_count == 2


def test_keys_create_refuses_a_character_limit_beyond_the_databases_integers(site: Site) -> None:
    done = subprocess.run(
        [str(INTONE), "keys", "create", "--name", "huge", "--character-limit", str(2**63)],
        env=site.server.env,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr.startswith("intone: ") and "--character-limit" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1

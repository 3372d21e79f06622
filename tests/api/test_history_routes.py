"""The history endpoints through the ASGI app, on items put in the store directly (no synthesis)."""

from __future__ import annotations

import io
import wave
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from intone.accounts.scopes import Scope
from intone.app import create_app
from intone.audio.encoders import encode
from intone.audio.formats import parse_output_format
from intone.config import Settings
from intone.store.history import NewItem
from intone.store.keys import Keys

# Every key ElevenLabs' SpeechHistoryItemResponse lists (and that the SDKs parse), plus Intone's audio_kept.
ITEM_KEYS = {
    "history_item_id",
    "request_id",
    "voice_id",
    "model_id",
    "voice_name",
    "voice_category",
    "text",
    "date_unix",
    "character_count_change_from",
    "character_count_change_to",
    "content_type",
    "state",
    "settings",
    "feedback",
    "share_link_id",
    "source",
    "alignments",
    "dialogue",
    "output_format",
    "audio_kept",
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=tmp_path, warm_up=False, auth="off"))) as test_client:
        yield test_client


def _record(client: TestClient, item: NewItem) -> None:
    client.app.state.services.store.history.record(item)


def _keys(client: TestClient) -> Keys:
    return client.app.state.services.store.keys


def _key(client: TestClient, *scopes: Scope) -> dict[str, str]:
    _, secret = _keys(client).create("test", frozenset(scopes), None, "pro")
    return {"xi-api-key": secret}


def _item(number: int, **changes: Any) -> NewItem:
    item = NewItem(
        history_item_id=f"item{number:03d}",
        owner="local",  # the caller of a request without a key when auth is off
        request_id=f"request{number:03d}",
        voice_id="JBFqnCBsd6RMkjVDRZzb",
        voice_name="George",
        voice_category="premade",
        model_id="eleven_flash_v2",
        text=f"Text number {number}.",
        characters=15,
        character_count_change_from=15 * (number - 1),
        character_count_change_to=15 * number,
        settings={"stability": 0.5, "speed": 1.0},
        output_format="mp3_44100_128",
        content_type="audio/mpeg",
        source="TTS",
        audio=f"audio {number}".encode(),
    )
    return replace(item, **changes)


def _mp3(seconds: float) -> bytes:
    times = np.arange(int(24_000 * seconds), dtype=np.float32) / 24_000
    return encode(0.3 * np.sin(2 * np.pi * 440 * times), 24_000, parse_output_format("mp3_44100_128"))


def _error(response: Any, http_status: int, status: str) -> str:
    assert response.status_code == http_status, response.text
    detail = response.json()["detail"]
    assert set(detail) == {"status", "message"} and detail["status"] == status
    return detail["message"]


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["history_item_id"] for item in response.json()["history"]]


def test_an_item_has_every_key_the_sdks_read(client: TestClient):
    _record(client, _item(1))
    body = client.get("/v1/history/item001").json()
    assert set(body) == ITEM_KEYS
    assert body == body | {
        "history_item_id": "item001",
        "request_id": "request001",
        "voice_id": "JBFqnCBsd6RMkjVDRZzb",
        "voice_name": "George",
        "voice_category": "premade",
        "model_id": "eleven_flash_v2",
        "text": "Text number 1.",
        "character_count_change_from": 0,
        "character_count_change_to": 15,
        "content_type": "audio/mpeg",
        "state": "created",
        "settings": {"stability": 0.5, "speed": 1.0},
        "feedback": None,
        "share_link_id": None,
        "source": "TTS",
        "output_format": "mp3_44100_128",
        "audio_kept": True,
    }
    assert isinstance(body["date_unix"], int) and body["date_unix"] > 1_700_000_000


def test_list_newest_first_with_pages(client: TestClient):
    for number in range(1, 6):
        _record(client, _item(number))
    page = client.get("/v1/history", params={"page_size": 2}).json()
    assert set(page) == {"history", "last_history_item_id", "has_more", "scanned_until"}
    assert [item["history_item_id"] for item in page["history"]] == ["item005", "item004"]
    assert set(page["history"][0]) == ITEM_KEYS
    assert page["has_more"] and page["last_history_item_id"] == "item004"
    assert page["scanned_until"] == page["history"][-1]["date_unix"]
    rest = client.get("/v1/history", params={"page_size": 10, "start_after_history_item_id": "item004"})
    assert _ids(rest) == ["item003", "item002", "item001"] and not rest.json()["has_more"]
    ascending = client.get("/v1/history", params={"sort_direction": "asc"})
    assert _ids(ascending) == ["item001", "item002", "item003", "item004", "item005"]
    empty = client.get("/v1/history", params={"voice_id": "nobody"}).json()
    assert empty == {"history": [], "last_history_item_id": None, "has_more": False, "scanned_until": None}


def test_list_filters(client: TestClient):
    _record(client, _item(1, voice_id="21m00Tcm4TlvDq8ikWAM", text="Hello there"))
    _record(client, _item(2, model_id="eleven_multilingual_v2"))
    _record(client, _item(3, text="HELLO again"))
    assert _ids(client.get("/v1/history", params={"voice_id": "21m00Tcm4TlvDq8ikWAM"})) == ["item001"]
    assert _ids(client.get("/v1/history", params={"model_id": "eleven_multilingual_v2"})) == ["item002"]
    assert _ids(client.get("/v1/history", params={"search": "hello"})) == ["item003", "item001"]
    assert _ids(client.get("/v1/history", params={"source": "STS"})) == []
    dates = {
        item["history_item_id"]: item["date_unix"] for item in client.get("/v1/history").json()["history"]
    }
    # The items may straddle a second: which fall on each side is read from their dates.
    after = _ids(client.get("/v1/history", params={"date_after_unix": dates["item002"]}))
    before = _ids(client.get("/v1/history", params={"date_before_unix": dates["item002"]}))
    assert after == [id_ for id_, date in dates.items() if date >= dates["item002"]]
    assert before == [id_ for id_, date in dates.items() if date < dates["item002"]]
    assert "item002" in after and sorted(after + before) == sorted(dates)


@pytest.mark.parametrize(
    "params",
    [
        {"page_size": 0},
        {"page_size": 1001},
        {"sort_direction": "up"},
        {"source": "Elsewhere"},
        {"date_before_unix": 10**15},
        {"date_after_unix": "yesterday"},
    ],
)
def test_bad_list_parameters_are_422(client: TestClient, params: dict[str, Any]):
    response = client.get("/v1/history", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][-1] == next(iter(params))


def test_starting_after_an_unknown_item_is_404(client: TestClient):
    response = client.get("/v1/history", params={"start_after_history_item_id": "nope"})
    assert "start_after_history_item_id" in _error(response, 404, "history_item_not_found")


def test_unknown_items_are_404(client: TestClient):
    for response in (
        client.get("/v1/history/nope"),
        client.get("/v1/history/nope/audio"),
        client.delete("/v1/history/nope"),
        client.post("/v1/history/download", json={"history_item_ids": ["nope"]}),
    ):
        assert "'nope'" in _error(response, 404, "history_item_not_found")


def test_ids_no_database_can_hold_are_404_not_500(client: TestClient):
    _record(client, _item(1))
    _error(client.get("/v1/history/a%00b"), 404, "history_item_not_found")
    assert _ids(client.get("/v1/history", params={"search": "a\0b"})) == []
    half_pair = b'{"history_item_ids": ["item001", "\\ud83d"]}'  # JSON may escape half a surrogate pair
    download = client.post(
        "/v1/history/download", content=half_pair, headers={"content-type": "application/json"}
    )
    _error(download, 404, "history_item_not_found")


def test_audio_is_served_as_it_was_made(client: TestClient):
    _record(client, _item(1, output_format="pcm_16000", content_type="audio/pcm", audio=b"\x01\x02" * 8))
    response = client.get("/v1/history/item001/audio")
    assert response.status_code == 200
    assert response.content == b"\x01\x02" * 8 and response.headers["content-type"] == "audio/pcm"


@pytest.fixture
def small_history(tmp_path: Path) -> Iterator[TestClient]:
    """A server that keeps 15 bytes of audio per key."""
    settings = Settings(data_dir=tmp_path, warm_up=False, auth="off", history_max_audio_mb=0.000015)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_pruned_audio_is_404_but_the_item_stays(small_history: TestClient):
    client = small_history
    _record(client, _item(1, audio=b"x" * 10))
    _record(client, _item(2, audio=b"y" * 10))  # no room left for item001's audio
    for response in (
        client.get("/v1/history/item001/audio"),
        client.post("/v1/history/download", json={"history_item_ids": ["item001"]}),
        client.post("/v1/history/download", json={"history_item_ids": ["item002", "item001"]}),
    ):
        assert "pruned" in _error(response, 404, "history_audio_not_kept")
    item = client.get("/v1/history/item001").json()
    assert item["text"] == "Text number 1." and item["audio_kept"] is False
    assert client.get("/v1/history/item002/audio").content == b"y" * 10


def test_download_one_item_is_its_audio_file(client: TestClient):
    _record(client, _item(1))
    response = client.post("/v1/history/download", json={"history_item_ids": ["item001", "item001"]})
    assert response.status_code == 200, response.text
    assert response.content == b"audio 1" and response.headers["content-type"] == "audio/mpeg"
    assert 'filename="item001.mp3"' in response.headers["content-disposition"]


def test_download_several_items_is_a_zip(client: TestClient):
    _record(client, _item(1))
    _record(client, _item(2, output_format="opus_48000_64", content_type="audio/ogg"))
    _record(client, _item(3))
    ids = ["item002", "item001", "item002"]
    response = client.post("/v1/history/download", json={"history_item_ids": ids, "output_format": None})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["item002.opus", "item001.mp3"]
        assert archive.read("item001.mp3") == b"audio 1" and archive.read("item002.opus") == b"audio 2"


def test_download_as_wav(client: TestClient):
    _record(client, _item(1, audio=_mp3(0.5)))
    _record(client, _item(2, output_format="pcm_16000", content_type="audio/pcm", audio=b"\0\0" * 1600))
    one = client.post("/v1/history/download", json={"history_item_ids": ["item001"], "output_format": "wav"})
    assert one.status_code == 200, one.text
    assert (
        one.headers["content-type"] == "audio/wav"
        and 'filename="item001.wav"' in one.headers["content-disposition"]
    )
    with wave.open(io.BytesIO(one.content)) as audio:
        assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (44_100, 1, 2)
        assert 0.5 <= audio.getnframes() / 44_100 < 0.6  # the MP3 encoder's padding included
    both = client.post(
        "/v1/history/download", json={"history_item_ids": ["item001", "item002"], "output_format": "wav"}
    )
    with zipfile.ZipFile(io.BytesIO(both.content)) as archive:
        assert archive.namelist() == ["item001.wav", "item002.wav"]
        assert archive.read("item001.wav") == one.content
        with wave.open(io.BytesIO(archive.read("item002.wav"))) as audio:
            assert (audio.getframerate(), audio.getnframes()) == (16_000, 1600)


@pytest.mark.parametrize(
    "body",
    [{}, {"history_item_ids": []}, {"history_item_ids": ["item001"], "output_format": "mp3_44100_128"}],
)
def test_bad_download_requests_are_422(client: TestClient, body: dict[str, Any]):
    _record(client, _item(1))
    assert client.post("/v1/history/download", json=body).status_code == 422


def test_delete(client: TestClient):
    _record(client, _item(1))
    _record(client, _item(2))
    response = client.delete("/v1/history/item001")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    _error(client.get("/v1/history/item001"), 404, "history_item_not_found")
    _error(client.delete("/v1/history/item001"), 404, "history_item_not_found")
    assert _ids(client.get("/v1/history")) == ["item002"]


def test_a_key_sees_only_its_own_items(client: TestClient):
    _record(client, _item(1))
    reader = _key(client, Scope.HISTORY_READ)
    assert _ids(client.get("/v1/history", headers=reader)) == []
    for response in (
        client.get("/v1/history/item001", headers=reader),
        client.get("/v1/history/item001/audio", headers=reader),
        client.post("/v1/history/download", json={"history_item_ids": ["item001"]}, headers=reader),
        client.delete("/v1/history/item001", headers=_key(client, Scope.HISTORY_WRITE)),
    ):
        _error(response, 404, "history_item_not_found")
    assert _ids(client.get("/v1/history")) == ["item001"]


def test_reading_and_deleting_need_their_scopes(client: TestClient):
    _record(client, _item(1))
    speaker = _key(client, Scope.TEXT_TO_SPEECH)
    for response in (
        client.get("/v1/history", headers=speaker),
        client.get("/v1/history/item001", headers=speaker),
        client.get("/v1/history/item001/audio", headers=speaker),
        client.post("/v1/history/download", json={"history_item_ids": ["item001"]}, headers=speaker),
        client.delete("/v1/history/item001", headers=_key(client, Scope.HISTORY_READ)),
    ):
        _error(response, 403, "missing_permissions")

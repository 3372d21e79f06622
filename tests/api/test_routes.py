"""The endpoints that answer without synthesizing, through the ASGI app (no server, no models loaded)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from intone.app import create_app
from intone.config import Settings
from intone.speech.voices import catalog

GEORGE = "JBFqnCBsd6RMkjVDRZzb"
RACHEL = "21m00Tcm4TlvDq8ikWAM"
UNKNOWN_VOICE = "NoSuchVoice000000000"
TTS = f"/v1/text-to-speech/{GEORGE}"
REQUEST_ID = re.compile(r"[0-9a-f]{32}")

MODEL_KEYS = {
    "model_id",
    "name",
    "can_be_finetuned",
    "can_do_text_to_speech",
    "can_do_voice_conversion",
    "can_use_style",
    "can_use_speaker_boost",
    "serves_pro_voices",
    "token_cost_factor",
    "description",
    "requires_alpha_access",
    "max_characters_request_free_user",
    "max_characters_request_subscribed_user",
    "maximum_text_length_per_request",
    "languages",
    "model_rates",
    "concurrency_group",
}
SUBSCRIPTION_KEYS = {
    "tier",
    "character_count",
    "character_limit",
    "max_credit_limit_extension",
    "can_extend_character_limit",
    "allowed_to_extend_character_limit",
    "voice_slots_used",
    "professional_voice_slots_used",
    "professional_voice_slots_used_in_workspace",
    "voice_limit",
    "voice_add_edit_counter",
    "professional_voice_limit",
    "can_extend_voice_limit",
    "can_use_instant_voice_cloning",
    "can_use_professional_voice_cloning",
    "current_overage",
    "status",
    "open_invoices",
    "has_open_invoices",
}
USER_KEYS = {
    "user_id",
    "workspace_id",
    "subscription",
    "is_new_user",
    "can_use_delayed_payment_methods",
    "is_onboarding_completed",
    "is_onboarding_checklist_completed",
    "created_at",
    "seat_type",
}
DEFAULT_SETTINGS = {
    "stability": 0.5,
    "similarity_boost": 0.75,
    "style": 0.0,
    "use_speaker_boost": True,
    "speed": 1.0,
}


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, warm_up=False, database_url=None, engine_workers=1, auth="off")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(tmp_path))) as test_client:
        yield test_client


def _error(response: Any, http_status: int, status: str) -> dict[str, str]:
    assert response.status_code == http_status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"detail"}
    assert set(body["detail"]) == {"status", "message"}
    assert body["detail"]["status"] == status
    assert isinstance(body["detail"]["message"], str) and body["detail"]["message"]
    return body["detail"]


def _validation_error(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    for item in detail:
        assert {"loc", "msg", "type"} <= set(item)
    return detail


# --- Service ---------------------------------------------------------------------------------------


def test_health_and_ready(client: TestClient):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200  # warm_up off: ready at once
    assert ready.json() == {"status": "ready"}


def test_the_database_is_created_in_the_data_dir(client: TestClient, tmp_path: Path):
    assert (tmp_path / "intone.db").is_file()


def test_every_response_has_its_own_request_id(client: TestClient):
    responses = [
        client.get("/health"),
        client.get("/v1/models"),
        client.get("/nope"),
        client.delete("/v1/models"),
        client.post(TTS, json={"text": "Hi", "seed": -1}),
        client.get(f"/v1/voices/{UNKNOWN_VOICE}"),
    ]
    ids = [response.headers["request-id"] for response in responses]
    assert all(REQUEST_ID.fullmatch(request_id) for request_id in ids), ids
    assert len(set(ids)) == len(ids)


# --- Models ----------------------------------------------------------------------------------------


def test_models_list_has_every_field(client: TestClient):
    response = client.get("/v1/models")
    assert response.status_code == 200
    models = response.json()
    assert isinstance(models, list) and len(models) >= 8
    for model in models:
        assert set(model) >= MODEL_KEYS, model["model_id"]
        assert isinstance(model["model_rates"]["character_cost_multiplier"], float)
        for language in model["languages"]:
            assert set(language) == {"language_id", "name"}
            assert language["language_id"] and language["name"]
    by_id = {model["model_id"]: model for model in models}
    assert len(by_id) == len(models)
    assert by_id["eleven_flash_v2"]["model_rates"]["character_cost_multiplier"] == 0.5
    assert by_id["eleven_flash_v2_5"]["model_rates"]["character_cost_multiplier"] == 0.5
    assert by_id["eleven_multilingual_v2"]["model_rates"]["character_cost_multiplier"] == 1.0
    assert by_id["eleven_multilingual_v2"]["can_do_text_to_speech"] is True
    assert by_id["eleven_multilingual_v2"]["maximum_text_length_per_request"] == 10_000
    english = {"language_id": "en", "name": "English"}
    assert english in by_id["eleven_multilingual_v2"]["languages"]
    assert by_id["eleven_flash_v2"]["languages"] == [english]


# --- Voices ----------------------------------------------------------------------------------------


VOICES = catalog().voices
CURRENT = [voice for voice in VOICES if not voice.legacy]


def test_v1_voices_lists_the_current_voices_and_legacy_ones_on_request(client: TestClient):
    voices = client.get("/v1/voices").json()["voices"]
    assert [voice["voice_id"] for voice in voices] == [voice.voice_id for voice in CURRENT]
    assert len(voices) == 20 + 54  # ElevenLabs' default voices and every Kokoro pack
    assert all(voice["category"] == "premade" for voice in voices)
    assert voices[0]["settings"] == DEFAULT_SETTINGS
    with_legacy = client.get("/v1/voices", params={"show_legacy": True}).json()["voices"]
    assert [voice["voice_id"] for voice in with_legacy] == [voice.voice_id for voice in VOICES]
    legacy = {voice["name"] for voice in with_legacy if voice["is_legacy"]}
    assert legacy == {"Rachel", "Adam", "Elli", "Josh"}


def test_every_voice_has_a_preview_url_here(client: TestClient):
    voices = client.get("/v1/voices").json()["voices"]
    assert all(
        voice["preview_url"] == f"http://testserver/v1/voices/{voice['voice_id']}/preview" for voice in voices
    )


def test_a_voice_lists_the_languages_it_speaks_natively(client: TestClient):
    george = client.get(f"/v1/voices/{GEORGE}").json()
    languages = {entry["language"]: entry for entry in george["verified_languages"]}
    assert languages["en"]["accent"] == "british" and languages["en"]["locale"] == "en-GB"
    assert languages["es"]["locale"] == "es-ES"  # the Spanish male pack speaks for him
    assert "fr" not in languages  # Kokoro has no French male pack
    dora = client.get("/v1/voices/ef_dora").json()
    assert [entry["language"] for entry in dora["verified_languages"]] == ["es"]


def test_v2_voices_pages_through_all_voices(client: TestClient):
    sizes, seen, tokens = [], [], []
    token: str | None = None
    while True:
        params: dict[str, str | int] = {"page_size": 30}
        if token:
            params["next_page_token"] = token
        body = client.get("/v2/voices", params=params).json()
        assert body["total_count"] == len(VOICES)
        sizes.append(len(body["voices"]))
        seen += [voice["voice_id"] for voice in body["voices"]]
        token = body["next_page_token"]
        assert body["has_more"] is (token is not None)
        tokens.append(token)
        if token is None:
            break
        assert len(sizes) < 5, "pagination does not end"
    assert sizes == [30, 30, len(VOICES) - 60]
    assert all(isinstance(t, str) and t for t in tokens[:2])
    assert tokens[2] is None
    assert len(seen) == len(set(seen)) == len(VOICES)
    assert seen == [voice.voice_id for voice in VOICES]


def test_v2_voices_default_page(client: TestClient):
    body = client.get("/v2/voices").json()
    assert set(body) == {"voices", "has_more", "total_count", "next_page_token"}
    assert len(body["voices"]) == 10
    assert body["has_more"] is True


@pytest.mark.parametrize("token", ["not-a-token!", "LTE=", "YWJj", "%%%"])
def test_v2_voices_rejects_a_token_it_did_not_hand_out(client: TestClient, token: str):
    # "LTE=" is base64 for "-1", "YWJj" for "abc".
    _error(client.get("/v2/voices", params={"next_page_token": token}), 400, "invalid_page_token")


@pytest.mark.parametrize("page_size", [0, 101, -1])
def test_v2_voices_page_size_out_of_range(client: TestClient, page_size: int):
    detail = _validation_error(client.get("/v2/voices", params={"page_size": page_size}))
    assert detail[0]["loc"] == ["query", "page_size"]


def test_v2_voices_page_size_bounds_are_accepted(client: TestClient):
    assert len(client.get("/v2/voices", params={"page_size": 1}).json()["voices"]) == 1
    body = client.get("/v2/voices", params={"page_size": 100}).json()
    assert len(body["voices"]) == len(VOICES)
    assert body["has_more"] is False
    assert body["next_page_token"] is None


def test_v2_voices_search(client: TestClient):
    body = client.get("/v2/voices", params={"search": "george"}).json()
    assert [voice["voice_id"] for voice in body["voices"]] == [GEORGE, "bm_george"]
    assert body["total_count"] == 2
    british = client.get("/v2/voices", params={"search": "British", "page_size": 100}).json()["voices"]
    assert {voice["name"] for voice in british} >= {
        "George",
        "Daniel",
        "Alice",
        "Emma (en-GB)",
        "Fable (en-GB)",
    }
    assert client.get("/v2/voices", params={"search": "zzzz"}).json()["total_count"] == 0


def test_v2_voices_by_repeated_voice_ids(client: TestClient):
    response = client.get(f"/v2/voices?voice_ids={GEORGE}&voice_ids={RACHEL}")
    body = response.json()
    assert {voice["voice_id"] for voice in body["voices"]} == {GEORGE, RACHEL}
    assert body["total_count"] == 2


def test_v2_voices_gender_filter(client: TestClient):
    male = client.get("/v2/voices", params={"gender": "male", "page_size": 100}).json()
    female = client.get("/v2/voices", params={"gender": "female", "page_size": 100}).json()
    assert male["total_count"] == sum(voice.gender == "male" for voice in VOICES)
    assert female["total_count"] == sum(voice.gender == "female" for voice in VOICES)
    assert male["total_count"] + female["total_count"] == len(VOICES) - 1  # River is neutral
    assert all(voice["labels"]["gender"] == "male" for voice in male["voices"])
    assert all(voice["labels"]["gender"] == "female" for voice in female["voices"])


def test_v2_voices_sorted_by_name_descending(client: TestClient):
    params = {"sort": "name", "sort_direction": "desc", "page_size": 100}
    names = [voice["name"] for voice in client.get("/v2/voices", params=params).json()["voices"]]
    assert names == sorted((voice.name for voice in VOICES), key=str.lower, reverse=True)
    assert names[0] == "Yunyang (zh-CN)"


def test_v2_voices_kinds_this_server_lacks_match_nothing(client: TestClient):
    body = client.get("/v2/voices", params={"voice_type": "personal"}).json()
    assert body == {"voices": [], "has_more": False, "total_count": 0, "next_page_token": None}
    assert client.get("/v2/voices", params={"voice_type": "default"}).json()["total_count"] == len(VOICES)


def test_get_one_voice(client: TestClient):
    voice = client.get(f"/v1/voices/{GEORGE}").json()
    assert voice["voice_id"] == GEORGE
    assert voice["name"] == "George"
    assert voice["labels"]["accent"] == "british"
    assert voice["settings"] == DEFAULT_SETTINGS


def test_unknown_voice_is_a_404(client: TestClient):
    detail = _error(client.get(f"/v1/voices/{UNKNOWN_VOICE}"), 404, "voice_not_found")
    assert UNKNOWN_VOICE in detail["message"]
    _error(client.get(f"/v1/voices/{UNKNOWN_VOICE}/settings"), 404, "voice_not_found")
    edit = client.post(f"/v1/voices/{UNKNOWN_VOICE}/settings/edit", json={"speed": 1.1})
    _error(edit, 404, "voice_not_found")


# --- Voice settings --------------------------------------------------------------------------------


def test_default_settings(client: TestClient):
    assert client.get("/v1/voices/settings/default").json() == DEFAULT_SETTINGS
    assert client.get(f"/v1/voices/{GEORGE}/settings").json() == DEFAULT_SETTINGS


def test_edited_settings_persist_across_app_instances(tmp_path: Path):
    edited = {
        "stability": 0.3,
        "similarity_boost": 0.6,
        "style": 0.2,
        "use_speaker_boost": False,
        "speed": 1.1,
    }
    with TestClient(create_app(_settings(tmp_path))) as first:
        response = first.post(f"/v1/voices/{GEORGE}/settings/edit", json=edited)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert first.get(f"/v1/voices/{GEORGE}/settings").json() == edited
    with TestClient(create_app(_settings(tmp_path))) as second:
        assert second.get(f"/v1/voices/{GEORGE}/settings").json() == edited
        assert second.get(f"/v1/voices/{GEORGE}").json()["settings"] == edited
        # Other voices keep the defaults.
        assert second.get(f"/v1/voices/{RACHEL}/settings").json() == DEFAULT_SETTINGS
        assert second.get("/v1/voices/settings/default").json() == DEFAULT_SETTINGS


def test_a_partial_edit_keeps_the_other_fields(client: TestClient):
    url = f"/v1/voices/{GEORGE}/settings"
    assert client.post(f"{url}/edit", json={"stability": 0.2, "speed": 0.9}).status_code == 200
    assert client.post(f"{url}/edit", json={"speed": 1.2}).status_code == 200
    assert client.post(f"{url}/edit", json={"style": None}).status_code == 200
    assert client.get(url).json() == DEFAULT_SETTINGS | {"stability": 0.2, "speed": 1.2}


@pytest.mark.parametrize("body", [{"speed": 2.0}, {"speed": 0.5}, {"stability": 1.5}, {"style": -0.1}])
def test_edit_out_of_range_is_a_422_and_stores_nothing(client: TestClient, body: dict[str, float]):
    _validation_error(client.post(f"/v1/voices/{GEORGE}/settings/edit", json=body))
    assert client.get(f"/v1/voices/{GEORGE}/settings").json() == DEFAULT_SETTINGS


# --- User ------------------------------------------------------------------------------------------


def _check_subscription(subscription: dict[str, Any]) -> None:
    assert set(subscription) >= SUBSCRIPTION_KEYS
    assert subscription["current_overage"] == {"amount": "0", "currency": "usd"}
    assert isinstance(subscription["current_overage"]["amount"], str)
    assert subscription["character_count"] == 0
    assert subscription["character_limit"] > subscription["character_count"]
    assert subscription["open_invoices"] == []
    assert subscription["has_open_invoices"] is False
    assert isinstance(subscription["status"], str) and subscription["status"]


def test_subscription(client: TestClient):
    response = client.get("/v1/user/subscription")
    assert response.status_code == 200
    _check_subscription(response.json())


def test_user(client: TestClient):
    response = client.get("/v1/user")
    assert response.status_code == 200
    user = response.json()
    assert set(user) >= USER_KEYS
    _check_subscription(user["subscription"])
    assert isinstance(user["created_at"], int) and user["created_at"] > 0
    assert isinstance(user["user_id"], str) and user["user_id"]
    assert isinstance(user["seat_type"], str) and user["seat_type"]
    assert user["is_new_user"] is False


# --- Error shapes ----------------------------------------------------------------------------------


def test_unknown_path_is_a_json_404(client: TestClient):
    _error(client.get("/v1/no-such-thing"), 404, "not_found")


def test_wrong_method_is_a_json_405(client: TestClient):
    _error(client.delete("/v1/models"), 405, "method_not_allowed")
    _error(client.get(TTS), 405, "method_not_allowed")


def test_tts_with_invalid_json_is_a_422(client: TestClient):
    response = client.post(TTS, content=b"{not json", headers={"content-type": "application/json"})
    detail = _validation_error(response)
    assert detail[0]["type"] == "json_invalid"


def test_tts_without_text_is_a_422(client: TestClient):
    detail = _validation_error(client.post(TTS, json={"model_id": "eleven_flash_v2"}))
    assert detail[0]["loc"] == ["body", "text"]


def test_tts_with_unknown_output_format_is_a_400(client: TestClient):
    response = client.post(TTS, params={"output_format": "ogg_1_2"}, json={"text": "Hello."})
    _error(response, 400, "invalid_output_format")
    stream = client.post(f"{TTS}/stream", params={"output_format": "nope"}, json={"text": "Hello."})
    _error(stream, 400, "invalid_output_format")


@pytest.mark.parametrize("seed", [4294967296, -1])
def test_tts_seed_out_of_range_is_a_422(client: TestClient, seed: int):
    detail = _validation_error(client.post(TTS, json={"text": "Hello.", "seed": seed}))
    assert detail[0]["loc"] == ["body", "seed"]


@pytest.mark.parametrize("level", [5, -1])
def test_tts_latency_out_of_range_is_a_422(client: TestClient, level: int):
    response = client.post(TTS, params={"optimize_streaming_latency": level}, json={"text": "Hello."})
    detail = _validation_error(response)
    assert detail[0]["loc"] == ["query", "optimize_streaming_latency"]


def test_tts_with_a_pronunciation_dictionary_is_a_404(client: TestClient):
    body = {
        "text": "Hello.",
        "pronunciation_dictionary_locators": [{"pronunciation_dictionary_id": "dict123", "version_id": "v1"}],
    }
    detail = _error(client.post(TTS, json=body), 404, "pronunciation_dictionary_not_found")
    assert "dict123" in detail["message"]


def test_tts_with_too_many_locators_is_a_422(client: TestClient):
    locators = [{"pronunciation_dictionary_id": f"d{n}"} for n in range(4)]
    body = {"text": "Hello.", "pronunciation_dictionary_locators": locators}
    detail = _validation_error(client.post(TTS, json=body))
    assert detail[0]["loc"] == ["body", "pronunciation_dictionary_locators"]


def test_tts_with_more_than_three_previous_request_ids_is_a_422(client: TestClient):
    body = {"text": "Hello.", "previous_request_ids": ["a", "b", "c", "d"]}
    detail = _validation_error(client.post(TTS, json=body))
    assert detail[0]["loc"] == ["body", "previous_request_ids"]
    too_many_next = {"text": "Hello.", "next_request_ids": ["a", "b", "c", "d"]}
    assert _validation_error(client.post(TTS, json=too_many_next))[0]["loc"] == ["body", "next_request_ids"]


def test_rejected_requests_are_not_counted(client: TestClient):
    client.post(TTS, params={"output_format": "nope"}, json={"text": "Hello there."})
    client.post(TTS, json={"text": "Hello there.", "seed": -1})
    assert client.get("/v1/user/subscription").json()["character_count"] == 0


def test_text_with_half_a_surrogate_pair_is_rejected(client: TestClient) -> None:
    body = '{"text": "a \\ud83d b"}'
    response = client.post(
        f"/v1/text-to-speech/{GEORGE}", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "text"]


def test_the_warm_up_loads_every_engine(tmp_path):
    from intone.app import _WARM_UP
    from intone.engines.registry import EngineSet
    from intone.speech.synthesizer import Synthesizer

    synth = Synthesizer(EngineSet(tmp_path))
    assert {synth.plan(request).engine for request in _WARM_UP} == {"kokoro", "piper", "espeak"}

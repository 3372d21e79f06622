"""The official `elevenlabs` Python SDK, unchanged, against a real `intone serve` on loopback."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from elevenlabs.client import ElevenLabs
from elevenlabs.core.api_error import ApiError
from elevenlabs.errors import UnprocessableEntityError

from intone.audio.formats import parse_output_format
from tests.audio.test_encoders import decode
from tests.utils.whisper import transcribe, word_error_rate

pytestmark = pytest.mark.slow

BRIAN = "nPczCjzI2devNBz1zQrb"  # an American man: Piper speaks him on the fast models
GEORGE = "JBFqnCBsd6RMkjVDRZzb"
TEXT = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background."


@pytest.fixture(scope="module")
def client(server) -> ElevenLabs:
    return ElevenLabs(base_url=server.url, api_key=server.api_key)


def _seconds(audio: bytes, output_format: str) -> float:
    decoded = decode(audio, parse_output_format(output_format))
    return len(decoded.samples) / decoded.sample_rate


def _samples(audio: bytes, output_format: str) -> tuple[np.ndarray, int]:
    decoded = decode(audio, parse_output_format(output_format))
    return decoded.samples, decoded.sample_rate


def test_convert_returns_intelligible_mp3_with_headers(client):
    with client.text_to_speech.with_raw_response.convert(
        BRIAN, text=TEXT, model_id="eleven_multilingual_v2", output_format="mp3_44100_128"
    ) as response:
        audio = b"".join(response.data)
        headers = response.headers
    assert headers["content-type"] == "audio/mpeg"
    assert len(headers["request-id"]) == 32
    assert headers["x-character-count"] == str(len(TEXT))
    assert headers["character-cost"] == str(len(TEXT))  # multilingual v2 costs 1 per character
    assert int(headers["current-concurrent-requests"]) >= 1
    assert int(headers["maximum-concurrent-requests"]) >= int(headers["current-concurrent-requests"])
    samples, rate = _samples(audio, "mp3_44100_128")
    assert rate == 44_100
    assert 3.5 < len(samples) / rate < 9
    assert word_error_rate([TEXT], [transcribe(samples, rate)]) <= 0.15


def test_a_voice_by_name_speaks_the_detected_language_and_says_so(client):
    spanish = "Mi hermana vive en una casa pequeña cerca del mar."
    with client.text_to_speech.with_raw_response.convert(
        "aria", text=spanish, output_format="pcm_24000"
    ) as reply:
        samples, rate = _samples(b"".join(reply.data), "pcm_24000")
        assert reply.headers["content-language"] == "es"
        assert reply.headers["x-language-source"] == "detected"
    assert word_error_rate([spanish], [transcribe(samples, rate, "es")]) <= 0.15
    with client.text_to_speech.with_raw_response.convert("ARIA", text="Ready.") as reply:
        b"".join(reply.data)
        assert reply.headers["content-language"] == "en"
        assert reply.headers["x-language-source"] == "fallback"


def test_a_preview_url_plays_without_a_key_and_is_made_once(client, server):
    voice = client.voices.get(GEORGE)
    first = httpx.get(voice.preview_url, timeout=60)  # no key: audio players fetch it bare
    assert first.status_code == 200
    assert first.headers["content-type"] == "audio/mpeg"
    samples, rate = _samples(first.content, "mp3_44100_128")
    assert "george" in transcribe(samples, rate).lower()
    again = httpx.get(voice.preview_url, timeout=60)
    assert again.content == first.content
    previews = Path(server.env["INTONE_DATA_DIR"]) / "previews"
    assert len(list(previews.glob(f"{GEORGE}-*.mp3"))) == 1
    missing = httpx.get(f"{server.url}/v1/voices/nobody/preview", timeout=60)
    assert missing.status_code == 404
    assert missing.json()["detail"]["status"] == "voice_not_found"


def test_flash_costs_half_a_credit_per_character(client):
    with client.text_to_speech.with_raw_response.convert(
        BRIAN, text="Hello there, friend.", model_id="eleven_flash_v2_5"
    ) as response:
        b"".join(response.data)
        assert response.headers["x-character-count"] == "20"
        assert response.headers["character-cost"] == "10"


def test_stream_arrives_in_pieces_and_equals_convert_for_a_seed(client):
    kwargs = {"text": TEXT, "model_id": "eleven_flash_v2_5", "output_format": "pcm_22050", "seed": 42}
    pieces = list(client.text_to_speech.stream(BRIAN, **kwargs, request_options={"chunk_size": 512}))
    converted = b"".join(client.text_to_speech.convert(BRIAN, **kwargs))
    assert len(pieces) > 3
    streamed = np.frombuffer(b"".join(pieces), np.int16).astype(np.int32)
    whole = np.frombuffer(converted, np.int16).astype(np.int32)
    # Streams decode smaller windows than whole files; Piper's windows match to float rounding
    # (docs/piper-windows.md), which moves a 16-bit sample by at most one step.
    assert len(streamed) == len(whole)
    assert np.abs(streamed - whole).max() <= 1
    assert 3.5 < _seconds(converted, "pcm_22050") < 9


def test_same_seed_same_bytes_other_seed_other_bytes(client):
    def speak(seed: int) -> bytes:
        return b"".join(
            client.text_to_speech.convert(
                BRIAN, text="Seeds make this repeatable.", model_id="eleven_flash_v2", seed=seed
            )
        )

    assert speak(7) == speak(7)
    assert speak(7) != speak(8)


def test_convert_with_timestamps_aligns_the_whole_text(client):
    result = client.text_to_speech.convert_with_timestamps(
        BRIAN, text="It costs $5 today.", model_id="eleven_flash_v2_5", output_format="pcm_16000"
    )
    audio = base64.b64decode(result.audio_base_64)
    duration = _seconds(audio, "pcm_16000")
    alignment, normalized = result.alignment, result.normalized_alignment
    assert "".join(alignment.characters) == "It costs $5 today."
    assert "".join(normalized.characters) == "It costs five dollars today."
    starts, ends = alignment.character_start_times_seconds, alignment.character_end_times_seconds
    assert starts == sorted(starts)
    assert all(s <= e for s, e in zip(starts, ends, strict=True))
    assert 0 < ends[-1] <= duration + 0.01


def test_stream_with_timestamps_times_are_relative_to_the_whole_response(client):
    text = "First sentence is here. Second one follows it. And the third one ends the stream."
    chunks = list(
        client.text_to_speech.stream_with_timestamps(
            BRIAN, text=text, model_id="eleven_flash_v2_5", output_format="pcm_22050"
        )
    )
    timed = [chunk for chunk in chunks if chunk.alignment]
    assert len(timed) >= 2
    assert "".join(c for chunk in timed for c in chunk.alignment.characters) == text
    starts = [t for chunk in timed for t in chunk.alignment.character_start_times_seconds]
    assert starts == sorted(starts)
    # Later chunks continue the timeline instead of restarting at zero.
    assert timed[-1].alignment.character_start_times_seconds[0] > 1.0
    audio = b"".join(base64.b64decode(chunk.audio_base_64) for chunk in chunks)
    assert timed[-1].alignment.character_end_times_seconds[-1] <= _seconds(audio, "pcm_22050") + 0.01


def test_stream_with_timestamps_is_ndjson_ending_in_newlines(server):
    response = httpx.post(
        f"{server.url}/v1/text-to-speech/{BRIAN}/stream/with-timestamps",
        headers=server.headers,
        json={"text": "One. Two.", "model_id": "eleven_flash_v2"},
        timeout=60,
    )
    assert response.status_code == 200
    assert response.text.endswith("\n")
    lines = response.text.splitlines()
    assert all("audio_base64" in json.loads(line) for line in lines)


def test_higher_latency_optimization_makes_a_smaller_first_window(server):
    text = "Although the morning was cold and grey, we walked all the way to the harbour and back again."

    def first_window_characters(level: int) -> int:
        response = httpx.post(
            f"{server.url}/v1/text-to-speech/{BRIAN}/stream/with-timestamps",
            headers=server.headers,
            params={"optimize_streaming_latency": level},
            json={"text": text, "model_id": "eleven_flash_v2"},
            timeout=60,
        )
        first = json.loads(response.text.splitlines()[0])
        return len(first["alignment"]["characters"])

    assert first_window_characters(4) < first_window_characters(0) < len(text)


def test_latency_level_4_turns_normalization_off(server):
    def normalized(params: dict[str, int]) -> str:
        response = httpx.post(
            f"{server.url}/v1/text-to-speech/{BRIAN}/with-timestamps",
            headers=server.headers,
            params=params,
            json={"text": "Room 12.", "model_id": "eleven_flash_v2"},
            timeout=60,
        )
        return "".join(response.json()["normalized_alignment"]["characters"])

    assert normalized({}) == "Room twelve."
    assert normalized({"optimize_streaming_latency": 4}) == "Room 12."


def test_language_code_is_enforced(client):
    audio = b"".join(
        client.text_to_speech.convert(
            BRIAN,
            text="Guten Morgen, wie geht es dir?",
            model_id="eleven_multilingual_v2",
            language_code="de",
        )
    )
    assert _seconds(audio, "mp3_44100_128") > 1
    with pytest.raises(ApiError) as error:
        b"".join(
            client.text_to_speech.convert(
                BRIAN, text="Bonjour", model_id="eleven_flash_v2", language_code="fr"
            )
        )
    assert error.value.status_code == 400
    assert error.value.body["detail"]["status"] == "unsupported_language"


def test_models_list_tells_what_each_model_speaks(client):
    models = {model.model_id: model for model in client.models.list()}
    v2 = models["eleven_multilingual_v2"]
    assert v2.can_do_text_to_speech
    assert v2.model_rates.character_cost_multiplier == 1.0
    assert v2.maximum_text_length_per_request == 10_000
    assert v2.concurrency_group == "standard"
    assert {"en", "de", "fr"} <= {language.language_id for language in v2.languages}
    assert models["eleven_flash_v2"].languages[0].name == "English"
    assert models["eleven_flash_v2_5"].token_cost_factor == 0.5
    assert not models["scribe_v1"].can_do_text_to_speech


def test_voices_search_pages_through_every_voice(client):
    seen, token = [], None
    while True:
        page = client.voices.search(page_size=30, next_page_token=token)
        assert page.total_count == 78
        seen += [voice.voice_id for voice in page.voices]
        if not page.has_more:
            break
        token = page.next_page_token
    assert len(seen) == len(set(seen)) == 78
    assert BRIAN in seen


def test_voices_search_filters(client):
    assert [v.voice_id for v in client.voices.search(search="george").voices] == [GEORGE, "bm_george"]
    picked = client.voices.search(voice_ids=[BRIAN, "21m00Tcm4TlvDq8ikWAM"])
    assert {v.name for v in picked.voices} == {"Brian", "Rachel"}
    males = client.voices.search(gender="male", sort="name", sort_direction="asc").voices
    assert [v.name for v in males] == sorted(v.name for v in males)
    assert all(v.labels["gender"] == "male" for v in males)
    assert client.voices.search(voice_type="personal").total_count == 0


def test_voices_get_all_and_get(client):
    voices = client.voices.get_all().voices
    assert len(voices) == 74  # the current default voices and the packs; legacy ones on request
    assert len(client.voices.get_all(show_legacy=True).voices) == 78
    george = client.voices.get(GEORGE)
    assert george.name == "George"
    assert george.category == "premade"
    assert george.settings.stability == 0.5
    assert george.preview_url.endswith(f"/v1/voices/{GEORGE}/preview")


def test_voice_settings_are_persisted_and_used(client):
    defaults = client.voices.settings.get_default()
    assert (defaults.stability, defaults.similarity_boost, defaults.speed) == (0.5, 0.75, 1.0)
    charlie = "IKne3meq5aSn9XLyUdCD"
    text = "A short line to time the speed setting."

    def duration() -> float:
        audio = b"".join(
            client.text_to_speech.convert(charlie, text=text, model_id="eleven_flash_v2", seed=1)
        )
        return _seconds(audio, "mp3_44100_128")

    normal = duration()
    try:
        assert client.voices.settings.update(charlie, request={"speed": 1.2}).status == "ok"
        stored = client.voices.settings.get(charlie)
        assert stored.speed == 1.2
        assert stored.stability == 0.5  # untouched fields keep their value
        assert duration() < normal * 0.92
    finally:
        client.voices.settings.update(charlie, request={"speed": 1.0})


def test_user_and_subscription_count_credits(client):
    before = client.user.subscription.get().character_count
    b"".join(client.text_to_speech.convert(BRIAN, text="Count me.", model_id="eleven_flash_v2"))
    subscription = client.user.subscription.get()
    assert subscription.character_count == before + 5  # 9 characters of flash at half a credit, rounded up
    assert subscription.character_limit > subscription.character_count
    user = client.user.get()
    assert user.user_id
    assert user.subscription.tier == subscription.tier


@pytest.mark.parametrize(
    ("voice", "kwargs", "http", "status"),
    [
        ("nope", {"text": "Hi"}, 404, "voice_not_found"),
        (BRIAN, {"text": "Hi", "model_id": "eleven_nonexistent"}, 400, "model_not_found"),
        (BRIAN, {"text": "x" * 5_001, "model_id": "eleven_v3"}, 400, "max_character_limit_exceeded"),
        (BRIAN, {"text": "Hi", "output_format": "mp3_1_2"}, 400, "invalid_output_format"),
        (BRIAN, {"text": "Hi", "language_code": "xx"}, 400, "unsupported_language"),
        (BRIAN, {"text": "   "}, 400, "text_empty"),
    ],
)
def test_errors_reach_the_sdk_in_the_api_shape(client, voice, kwargs, http, status):
    with pytest.raises(ApiError) as error:
        b"".join(client.text_to_speech.convert(voice, **kwargs))
    assert error.value.status_code == http
    assert error.value.body["detail"]["status"] == status
    assert error.value.body["detail"]["message"]
    assert error.value.headers["content-type"] == "application/json"


def test_streaming_errors_are_raised_before_any_audio(client):
    with pytest.raises(ApiError) as error:
        list(client.text_to_speech.stream(BRIAN, text="Hi", output_format="wav_44100"))
    assert error.value.body["detail"]["status"] == "invalid_output_format"


def test_validation_errors_are_422(client):
    with pytest.raises(UnprocessableEntityError) as error:
        b"".join(client.text_to_speech.convert(BRIAN, text="Hi", seed=-1))
    detail = error.value.body["detail"]
    assert detail[0]["loc"] == ["body", "seed"]
    assert detail[0]["type"] and detail[0]["msg"]


def test_nulls_and_unknown_fields_are_accepted(server):
    body = {
        "text": "Nulls are fine.",
        "model_id": None,
        "language_code": None,
        "voice_settings": {"stability": None, "speed": None},
        "pronunciation_dictionary_locators": None,
        "seed": None,
        "previous_text": None,
        "next_text": None,
        "apply_text_normalization": None,
        "a_field_from_the_future": {"x": 1},
    }
    response = httpx.post(
        f"{server.url}/v1/text-to-speech/{BRIAN}", headers=server.headers, json=body, timeout=60
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/mpeg"


def test_previous_text_is_read_as_context_but_not_spoken(client):
    def normalized(**context: str) -> str:
        result = client.text_to_speech.convert_with_timestamps(
            BRIAN, text="1984 was cold.", model_id="eleven_flash_v2", **context
        )
        assert "".join(result.alignment.characters) == "1984 was cold."
        return "".join(result.normalized_alignment.characters)

    assert normalized() == "one thousand nine hundred and eighty-four was cold."
    assert normalized(previous_text="It all happened in") == "nineteen eighty-four was cold."

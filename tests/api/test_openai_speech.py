"""`POST /v1/audio/speech` through the official `openai` Python SDK, unchanged, against a real server."""

from __future__ import annotations

import base64
import io
import json

import av
import httpx
import numpy as np
import openai
import pytest
from openai import OpenAI

from intone.api.openai.names import VOICES
from intone.speech.voices import get_voice
from tests.api.server import create_key
from tests.utils.whisper import transcribe, word_error_rate

pytestmark = pytest.mark.slow

TEXT = "Glue the sheet to the dark blue background."
# OpenAI's voices by the gender OpenAI gives them (alloy it does not gender).
GENDERS = {
    "alloy": "neutral",
    "ash": "male",
    "ballad": "male",
    "cedar": "male",
    "coral": "female",
    "echo": "male",
    "fable": "male",
    "marin": "female",
    "nova": "female",
    "onyx": "male",
    "sage": "female",
    "shimmer": "female",
    "verse": "male",
}
MEDIA_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


@pytest.fixture(scope="module")
def client(server) -> OpenAI:
    return OpenAI(base_url=f"{server.url}/v1", api_key=server.api_key, max_retries=0)


def _decoded(audio: bytes, response_format: str) -> tuple[np.ndarray, int]:
    """Mono float samples and their rate, decoded by ffmpeg (pcm: OpenAI's raw 24 kHz 16-bit)."""
    if response_format == "pcm":
        return np.frombuffer(audio, "<i2").astype(np.float32) / 32768, 24_000
    with av.open(io.BytesIO(audio)) as container:
        frames = list(container.decode(audio=0))
    samples = np.concatenate([frame.to_ndarray().reshape(-1) for frame in frames]).astype(np.float32)
    if frames[0].format.name.startswith("s16"):
        samples /= 32768
    return samples, frames[0].sample_rate


def _heard(audio: bytes, response_format: str, text: str = TEXT) -> None:
    samples, rate = _decoded(audio, response_format)
    assert 1.5 < len(samples) / rate < 6  # about 2.5 s of speech
    assert word_error_rate([text], [transcribe(samples, rate)]) <= 0.25


def test_every_openai_voice_is_an_intone_voice_of_its_gender():
    assert set(VOICES) == set(GENDERS)
    assert {name: get_voice(voice).gender for name, voice in VOICES.items()} == GENDERS
    assert len(set(VOICES.values())) == len(VOICES)  # thirteen different people


@pytest.mark.parametrize("response_format", list(MEDIA_TYPES))
def test_each_response_format_decodes_to_the_text_spoken(client, response_format):
    # onyx is Brian, an American man: Piper speaks him on tts-1, the fast model.
    response = client.audio.speech.with_raw_response.create(
        model="tts-1", voice="onyx", input=TEXT, response_format=response_format
    )
    assert response.headers["content-type"] == MEDIA_TYPES[response_format]
    assert response.headers["character-cost"] == str(-(-len(TEXT) // 2))  # the fast tier: half a credit
    _heard(response.content, response_format)


def test_the_quality_model_streams_in_pieces(client):
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice="nova", input=TEXT, response_format="pcm", speed=1.1
    ) as response:
        assert response.headers["content-language"] == "en"
        pieces = [piece for piece in response.iter_bytes() if piece]
    assert len(pieces) > 1
    _heard(b"".join(pieces), "pcm")


def test_sse_carries_the_audio_in_deltas_then_usage(client):
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="onyx", input=TEXT, response_format="mp3", stream_format="sse"
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[len("data: ") :]) for line in response.iter_lines() if line]
    *deltas, done = events
    assert deltas and {event["type"] for event in deltas} == {"speech.audio.delta"}
    credits = -(-len(TEXT) // 2)
    assert done == {
        "type": "speech.audio.done",
        "usage": {"input_tokens": credits, "output_tokens": 0, "total_tokens": credits},
    }
    _heard(b"".join(base64.b64decode(event["audio"]) for event in deltas), "mp3")


def test_a_voice_by_openai_name_or_id_object_is_kept_in_history_with_real_wav_sizes(client, server):
    # American men, whom Piper speaks on the fast model.
    for voice, name in (("echo", "Will"), ({"id": get_voice("Bill").voice_id}, "Bill")):
        response = client.audio.speech.with_raw_response.create(
            model="tts-1", voice=voice, input="Hello.", response_format="wav"
        )
        assert response.content.startswith(b"RIFF")
        item = httpx.get(
            f"{server.url}/v1/history/{response.headers['request-id']}", headers=server.headers
        ).json()
        assert (item["voice_name"], item["model_id"]) == (name, "eleven_flash_v2_5")
    # The answer streamed with a header that could not know its sizes; the kept file states them.
    kept = httpx.get(
        f"{server.url}/v1/history/{response.headers['request-id']}/audio", headers=server.headers
    ).content
    assert kept[:4] == b"RIFF" and int.from_bytes(kept[4:8], "little") == len(kept) - 8
    assert int.from_bytes(kept[40:44], "little") == len(kept) - 44


def _error(raised: pytest.ExceptionInfo[openai.APIStatusError]) -> dict[str, object]:
    body = raised.value.response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        ({"voice": "nobody"}, "voice", "voice_not_found"),
        ({"input": ""}, "input", "string_too_short"),
        ({"input": "a" * 4097}, "input", "string_too_long"),
        ({"speed": 2.0}, "speed", "invalid_voice_settings"),
        ({"speed": 5.0}, "speed", "less_than_equal"),
        ({"response_format": "ogg"}, "response_format", "literal_error"),
    ],
)
def test_bad_requests_are_400_in_openai_shape(client, fields, param, code):
    request = {"model": "tts-1", "voice": "alloy", "input": "Hello.", **fields}
    with pytest.raises(openai.BadRequestError) as raised:
        client.audio.speech.create(**request)
    error = _error(raised)
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)


def test_an_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as raised:
        client.audio.speech.create(model="tts-2", voice="alloy", input="Hello.")
    assert _error(raised)["code"] == "model_not_found"


def test_no_key_is_401_in_openai_shape(client):
    # The SDK always sends a key; omitting its header is what a client without one sends.
    with pytest.raises(openai.AuthenticationError) as raised:
        client.audio.speech.create(
            model="tts-1", voice="alloy", input="Hello.", extra_headers={"Authorization": openai.omit}
        )
    assert _error(raised)["code"] == "invalid_api_key"


def test_a_bad_key_is_401_in_openai_shape(server):
    client = OpenAI(base_url=f"{server.url}/v1", api_key="sk-not-an-intone-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as raised:
        client.audio.speech.create(model="tts-1", voice="alloy", input="Hello.")
    assert _error(raised)["code"] == "invalid_api_key"


def test_a_spent_quota_is_429_insufficient_quota(server):
    key = create_key(server.env, "openai-tiny-quota", "--character-limit", "3")
    client = OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)
    with pytest.raises(openai.RateLimitError) as raised:
        client.audio.speech.create(model="tts-1-hd", voice="alloy", input="Hello there.")
    error = _error(raised)
    assert (error["type"], error["code"]) == ("insufficient_quota", "quota_exceeded")

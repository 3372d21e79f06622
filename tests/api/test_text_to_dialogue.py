"""Text to dialogue through the official `elevenlabs` Python SDK, unchanged, on real models: the four
forms, voice segments that agree with the audio, the alignment, credits, history and errors."""

from __future__ import annotations

import base64
import math

import numpy as np
import pytest
from elevenlabs.client import ElevenLabs
from elevenlabs.core.api_error import ApiError
from elevenlabs.errors import UnprocessableEntityError

from intone.audio.formats import parse_output_format
from intone.speech.dialogue import TURN_GAP
from tests.api.server import create_key
from tests.audio.test_encoders import decode
from tests.utils.silence import longest_quiet
from tests.utils.whisper import transcribe, word_error_rate

pytestmark = pytest.mark.slow

BRIAN = "nPczCjzI2devNBz1zQrb"  # an American man: Piper speaks him on the fast models
GEORGE = "JBFqnCBsd6RMkjVDRZzb"  # a British man: Kokoro
FAST = "eleven_flash_v2"  # half a credit per character
INPUTS = [
    {"text": "Good morning, how are you today?", "voice_id": BRIAN},
    {"text": "Very well, thank you.", "voice_id": "aria"},
]
JOINED = "".join(item["text"] for item in INPUTS)
ELEVEN_VOICES = "aria roger sarah laura charlie george callum river liam charlotte alice".split()  # noqa: SIM905
PCM = "pcm_24000"
RATE = 24_000


@pytest.fixture(scope="module")
def client(server) -> ElevenLabs:
    return ElevenLabs(base_url=server.url, api_key=server.api_key)


def _pcm(audio: bytes) -> np.ndarray:
    return np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768


def _check_segments(segments, duration: float) -> None:
    """Each input's segment, in order, tiling the recording and the joined text."""
    assert [(s.voice_id, s.dialogue_input_index) for s in segments] == [
        (BRIAN, 0),
        ("9BWtsMINqrJLrRacOk9x", 1),  # "aria" by its id
    ]
    first = len(INPUTS[0]["text"])
    assert [(s.character_start_index, s.character_end_index) for s in segments] == [
        (0, first),
        (first, len(JOINED)),
    ]
    assert (
        segments[0].start_time_seconds == 0 and segments[0].end_time_seconds == segments[1].start_time_seconds
    )
    assert segments[1].end_time_seconds == pytest.approx(duration, abs=0.01)


def test_with_timestamps_segments_agree_with_the_audio_and_the_alignment_spells_the_inputs(client):
    reply = client.text_to_dialogue.with_raw_response.convert_with_timestamps(
        inputs=INPUTS, model_id=FAST, output_format=PCM, seed=7
    )
    result, headers = reply.data, reply.headers
    assert headers["x-character-count"] == str(len(JOINED))
    assert headers["character-cost"] == str(math.ceil(len(JOINED) / 2))
    audio = _pcm(base64.b64decode(result.audio_base_64))
    _check_segments(result.voice_segments, len(audio) / RATE)
    assert "".join(result.alignment.characters) == JOINED
    assert "".join(result.normalized_alignment.characters) == JOINED  # nothing here to normalize
    starts = result.alignment.character_start_times_seconds
    assert starts == sorted(starts) and result.alignment.character_end_times_seconds[-1] <= len(audio) / RATE
    # The turn gap closes the first segment: silence made by the server, not by an engine.
    end = result.voice_segments[0].end_time_seconds
    assert np.abs(audio[round((end - TURN_GAP + 0.03) * RATE) : round((end - 0.03) * RATE)]).max() < 1e-3
    assert starts[len(INPUTS[0]["text"])] >= end - 0.01  # the second input starts after it
    # Each segment holds its own input, and whisper hears it there.
    for segment, item in zip(result.voice_segments, INPUTS, strict=True):
        said = audio[round(segment.start_time_seconds * RATE) : round(segment.end_time_seconds * RATE)]
        assert word_error_rate([item["text"]], [transcribe(said, RATE)]) <= 0.2


def test_stream_with_timestamps_sends_segments_as_their_inputs_end(client):
    chunks = list(
        client.text_to_dialogue.stream_with_timestamps(
            inputs=INPUTS, model_id=FAST, output_format=PCM, seed=7
        )
    )
    assert len(chunks) > 2
    audio = _pcm(b"".join(base64.b64decode(chunk.audio_base_64) for chunk in chunks))
    segments = [segment for chunk in chunks for segment in chunk.voice_segments]
    _check_segments(segments, len(audio) / RATE)
    characters = [c for chunk in chunks if chunk.alignment for c in chunk.alignment.characters]
    assert "".join(characters) == JOINED
    # The first segment comes with the gap after its input, before any of the second input's audio.
    ending = next(index for index, chunk in enumerate(chunks) if chunk.voice_segments)
    assert chunks[ending].alignment is None
    later = "".join(
        c for chunk in chunks[ending + 1 :] if chunk.alignment for c in chunk.alignment.characters
    )
    assert later == INPUTS[1]["text"]


def test_stream_sends_one_recording_of_every_input(client):
    inputs = [{"text": "Where are you?", "voice_id": BRIAN}, {"text": "In the kitchen.", "voice_id": BRIAN}]
    audio = b"".join(client.text_to_dialogue.stream(inputs=inputs, model_id=FAST))
    decoded = decode(audio, parse_output_format("mp3_44100_128"))
    heard = transcribe(decoded.samples, decoded.sample_rate)
    assert word_error_rate(["Where are you? In the kitchen."], [heard]) <= 0.2


def test_the_default_eleven_v3_reads_tags_in_each_input_and_keeps_one_history_item(client):
    inputs = [
        {"text": "[whispers] Are you ready?", "voice_id": GEORGE},
        {"text": 'Yes. <break time="0.8s" /> Let us go.', "voice_id": "aria"},
    ]
    joined = "".join(item["text"] for item in inputs)
    with client.text_to_dialogue.with_raw_response.convert(inputs=inputs, output_format=PCM) as reply:
        audio = _pcm(b"".join(reply.data))
        headers = reply.headers
    assert headers["character-cost"] == str(len(joined))  # eleven_v3: a credit per character
    assert word_error_rate(["Are you ready? Yes. Let us go."], [transcribe(audio, RATE)]) <= 0.2
    assert longest_quiet(audio, RATE)[1] >= 0.75  # the break, longer than the turn gap
    item = client.history.get(headers["request-id"])
    assert (item.text, item.voice_id, item.model_id) == (joined, GEORGE, "eleven_v3")
    assert item.character_count_change_to - item.character_count_change_from == len(joined)


def test_credits_are_the_characters_of_all_inputs(server):
    inputs = [{"text": "Hello.", "voice_id": BRIAN}, {"text": "Hello to you!", "voice_id": BRIAN}]
    credits = math.ceil(len("Hello.Hello to you!") / 2)
    key = create_key(server.env, "dialogue-quota", "--character-limit", str(credits))
    client = ElevenLabs(base_url=server.url, api_key=key)
    b"".join(client.text_to_dialogue.convert(inputs=inputs, model_id=FAST))
    assert client.user.subscription.get().character_count == credits
    with pytest.raises(ApiError) as refused:
        b"".join(client.text_to_dialogue.convert(inputs=inputs[:1], model_id=FAST))
    assert refused.value.status_code == 401 and refused.value.body["detail"]["status"] == "quota_exceeded"


@pytest.mark.parametrize(
    ("inputs", "code", "status", "message"),
    [
        ([], 400, "invalid_request", "at least one input"),
        ([INPUTS[0], {"text": "Hi.", "voice_id": "nobody"}], 404, "voice_not_found", "inputs[1]: "),
        ([INPUTS[0], {"text": "...", "voice_id": BRIAN}], 400, "text_empty", "inputs[1]: "),
        (
            [{"text": "Hi.", "voice_id": name} for name in ELEVEN_VOICES],
            400,
            "invalid_request",
            "at most 10 different voices",
        ),
        ([{"text": "word " * 500, "voice_id": BRIAN}] * 3, 400, "max_character_limit_exceeded", "7500"),
    ],
)
def test_bad_dialogues_get_clear_errors(client, inputs, code, status, message):
    with pytest.raises(ApiError) as error:
        client.text_to_dialogue.convert_with_timestamps(inputs=inputs)
    assert error.value.status_code == code
    assert error.value.body["detail"]["status"] == status and message in error.value.body["detail"]["message"]


def test_requests_outside_the_contract_are_refused(client, server):
    with pytest.raises(ApiError) as error:
        b"".join(client.text_to_dialogue.stream(inputs=INPUTS, output_format="wav_44100"))
    assert error.value.status_code == 400 and error.value.body["detail"]["status"] == "invalid_output_format"
    with pytest.raises(UnprocessableEntityError):
        client.text_to_dialogue.convert_with_timestamps(inputs=[{"text": "Hi."}])
    reader = ElevenLabs(
        base_url=server.url, api_key=create_key(server.env, "reader", "--scopes", "models_read")
    )
    with pytest.raises(ApiError) as error:
        reader.text_to_dialogue.convert_with_timestamps(inputs=INPUTS)
    assert error.value.status_code == 403

"""Text control through the official `elevenlabs` SDK and the stream-input socket, against a real server:
phoneme tags are heard as their pronunciation, breaks are silences of their length with alignments
that still spell the request text, eleven_v3 audio tags are never spoken (and are words elsewhere), a
tag that cannot be read is a 400, and on the socket tags split across messages are joined."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from elevenlabs.client import ElevenLabs
from elevenlabs.core.api_error import ApiError
from elevenlabs.pronunciation_dictionaries import (
    BodyAddAPronunciationDictionaryV1PronunciationDictionariesAddFromRulesPostRulesItem_Phoneme as NewPhoneme,
)
from websockets.asyncio.client import connect

from tests.api.server import Server
from tests.api.ws import BRIAN, Message, drain, errors, pcm, run, send, spoken, ws_url
from tests.utils.silence import longest_digital_silence, longest_quiet
from tests.utils.whisper import plain, transcribe

pytestmark = pytest.mark.slow

FLASH = "eleven_flash_v2"  # Piper speaks Brian on it: fast
RATE = 16_000
PCM = f"pcm_{RATE}"
BANANAS = "B AH0 N AE1 N AH0 Z"


@pytest.fixture(scope="module")
def client(server) -> ElevenLabs:
    return ElevenLabs(base_url=server.url, api_key=server.api_key)


def _samples(audio: bytes) -> np.ndarray:
    return np.frombuffer(audio, "<i2").astype(np.float32) / 32768


def _heard(client: ElevenLabs, text: str, model_id: str = FLASH, voice_id: str = BRIAN) -> str:
    audio = b"".join(client.text_to_speech.convert(voice_id, text=text, model_id=model_id, output_format=PCM))
    return plain(transcribe(_samples(audio), RATE))


def test_a_phoneme_tag_is_heard_as_its_pronunciation(client):
    sentence = "Please buy some {} for the party."
    assert "banana" not in _heard(client, sentence.format("zorblax"))  # the control
    heard = _heard(
        client, sentence.format(f'<phoneme alphabet="cmu-arpabet" ph="{BANANAS}">zorblax</phoneme>')
    )
    assert "bananas" in heard and "phoneme" not in heard and "arpabet" not in heard


@pytest.mark.parametrize(("time", "seconds"), [("1.5s", 1.5), ("700ms", 0.7), ("5s", 3.0)])
def test_a_break_is_a_silence_of_its_length_and_alignment_spells_the_text(client, time, seconds):
    tag = f'<break time="{time}" />'
    text = f"Red, green and blue. {tag} Yellow and pink."
    result = client.text_to_speech.convert_with_timestamps(
        BRIAN, text=text, model_id=FLASH, output_format=PCM
    )
    samples = _samples(base64.b64decode(result.audio_base_64))
    start, length = longest_digital_silence(samples, RATE)
    assert length == pytest.approx(seconds, abs=0.005)  # longer ones are clamped to 3 s
    # The engine's own pause at the full stop and before the next word come on top, never a second break.
    assert longest_quiet(samples, RATE)[1] < seconds + 1.2
    alignment, normalized = result.alignment, result.normalized_alignment
    assert "".join(alignment.characters) == text
    assert tag in "".join(normalized.characters)  # the tag stands for the pause in both alignments
    starts, ends = alignment.character_start_times_seconds, alignment.character_end_times_seconds
    first, last = text.index(tag), text.index(tag) + len(tag) - 1
    assert ends[last] - starts[first] == pytest.approx(seconds, abs=0.01)
    assert start - 0.02 <= starts[first] and ends[last] <= start + length + 0.02
    assert starts == sorted(starts)
    heard = plain(transcribe(samples, RATE))
    assert "break" not in heard and "time" not in heard and "yellow" in heard


def test_eleven_v3_audio_tags_are_not_spoken_and_are_words_elsewhere(client):
    text = "[laughs] That is funny. [whispers] Keep the secret."
    on_v3 = _heard(client, text, "eleven_v3", "JBFqnCBsd6RMkjVDRZzb")
    assert "laugh" not in on_v3 and "whisper" not in on_v3 and "secret" in on_v3
    elsewhere = _heard(client, text, "eleven_multilingual_v2", "JBFqnCBsd6RMkjVDRZzb")
    assert "laugh" in elsewhere and "whisper" in elsewhere


def test_a_v3_pause_tag_is_a_pause(client):
    text = "One two three. [long pause] Four five."
    audio = b"".join(client.text_to_speech.convert(BRIAN, text=text, model_id="eleven_v3", output_format=PCM))
    samples = _samples(audio)
    # Kokoro's own fade at the edges of speech can round to zero in 16-bit samples: a few ms more.
    assert 1.5 - 0.005 <= longest_digital_silence(samples, RATE)[1] < 1.5 + 0.1
    assert longest_quiet(samples, RATE)[1] < 1.5 + 1.2


@pytest.mark.parametrize(
    "text",
    [
        'Say <phoneme alphabet="ipa" ph="tə">tomato',
        'Say <phoneme alphabet="klingon" ph="tə">tomato</phoneme>',
        'Say <phoneme alphabet="ipa">tomato</phoneme>',
        'Say <phoneme alphabet="ipa" ph="a"><phoneme alphabet="ipa" ph="b">x</phoneme></phoneme>',
        'Wait <break time="soon" /> now',
    ],
)
@pytest.mark.parametrize("endpoint", ["convert", "stream", "convert_with_timestamps"])
def test_a_tag_that_cannot_be_read_is_a_400(client, text, endpoint):
    call = getattr(client.text_to_speech, endpoint)
    with pytest.raises(ApiError) as error:
        result = call(BRIAN, text=text, model_id=FLASH)
        if endpoint != "convert_with_timestamps":
            b"".join(result)
    assert error.value.status_code == 400
    assert error.value.body["detail"]["status"] == "invalid_markup"
    assert "tag at character" in error.value.body["detail"]["message"]


def _socket(server: Server, **query: str | bool) -> connect:
    url = ws_url(server.url, "stream-input", model_id=FLASH, output_format=PCM, **query)
    return connect(url, open_timeout=10, close_timeout=5, additional_headers=server.headers)


def _talk(
    server: Server, pieces: list[str], first: Message | None = None, **query: str | bool
) -> list[Message]:
    async def talk() -> list[Message]:
        async with _socket(server, **query) as ws:
            config = {"chunk_length_schedule": [50]}
            assert await send(ws, {"text": " ", "generation_config": config, **(first or {})})
            assert await send(ws, *({"text": piece} for piece in pieces), {"text": ""})
            return await drain(ws, 60)

    return run(talk(), 90)


def test_socket_tags_split_across_messages_are_joined(server):
    text = (
        "We start with a few words to pass the first length of the schedule. "
        '<break time="1.5s" /> Then buy some '
        f'<phoneme alphabet="cmu-arpabet" ph="{BANANAS}">zorblax</phoneme> for the party. '
    )
    pieces = [text[i : i + 5] for i in range(0, len(text), 5)]  # every tag arrives in pieces
    messages = _talk(server, pieces, enable_ssml_parsing=True)
    assert errors(messages) == []
    assert spoken(messages).strip() == text.strip()
    samples = _samples(pcm(messages))
    assert longest_digital_silence(samples, RATE)[1] == pytest.approx(1.5, abs=0.005)
    assert longest_quiet(samples, RATE)[1] < 1.5 + 1.2
    heard = plain(transcribe(samples, RATE))
    assert "bananas" in heard and "break" not in heard and "phoneme" not in heard


def test_socket_without_ssml_parsing_reads_tags_as_text(server):
    text = 'First some words to get going here. <break time="1.5s" /> And then the rest of it. '
    messages = _talk(server, [text])
    assert errors(messages) == []
    samples = _samples(pcm(messages))
    # No pause was made: the tag is text, as on ElevenLabs by default.
    assert longest_digital_silence(samples, RATE)[1] < 0.1 and longest_quiet(samples, RATE)[1] < 1.0


def test_socket_tag_that_cannot_be_read_is_an_error(server):
    messages = _talk(server, ['Say <phoneme alphabet="ipa" ph="x">tomato'], enable_ssml_parsing=True)
    assert [message["error"] for message in errors(messages)] == ["invalid_markup"]


def test_socket_applies_the_first_messages_dictionaries(client, server):
    made = client.pronunciation_dictionaries.create_from_rules(
        name="Fruit", rules=[NewPhoneme(string_to_replace="zorblax", phoneme=BANANAS, alphabet="cmu-arpabet")]
    )
    text = "Please buy some zorblax for the party. "
    locators = [{"pronunciation_dictionary_id": made.id, "version_id": made.version_id}]
    messages = _talk(server, [text], {"pronunciation_dictionary_locators": locators})
    assert errors(messages) == []
    assert spoken(messages).strip() == text.strip()
    assert "bananas" in plain(transcribe(_samples(pcm(messages)), RATE))

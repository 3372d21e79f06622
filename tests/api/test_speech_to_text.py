"""POST /v1/speech-to-text through the official SDK, on real Whisper base: real read speech (LibriVox),
Intone's own Spanish speech with the language detected, timings, exports, usage and the refusals."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from elevenlabs.client import ElevenLabs
from elevenlabs.core.api_error import ApiError

from tests.api.server import Server, create_key, serving
from tests.utils.recordings import Recording, librivox
from tests.utils.whisper import word_error_rate

pytestmark = pytest.mark.slow

MAX_BYTES = 2_000_000


@pytest.fixture(scope="module")
def stt_server(tmp_path_factory) -> Iterator[Server]:
    """A server of its own: its upload limit is small, so that a too-large file is cheap to send."""
    env = {"INTONE_MAX_TRANSCRIPTION_BYTES": str(MAX_BYTES)}
    with serving(tmp_path_factory.mktemp("intone-stt"), env=env) as running:
        yield running


@pytest.fixture(scope="module")
def client(stt_server: Server) -> ElevenLabs:
    return ElevenLabs(base_url=stt_server.url, api_key=stt_server.api_key)


@pytest.fixture(scope="module")
def recordings() -> list[Recording]:
    return librivox()


@pytest.fixture(scope="module")
def transcripts(client: ElevenLabs, recordings: list[Recording]) -> list:
    results = []
    for recording in recordings:
        with recording.path.open("rb") as audio:
            results.append(client.speech_to_text.convert(file=audio, model_id="scribe_v2"))
    return results


def _heard(text: str) -> str:
    return re.sub(r"\bmr\b\.?", "mister", text.lower())


def test_read_speech_is_transcribed_within_the_error_budget(transcripts, recordings):
    references = [recording.said for recording in recordings]
    hypotheses = [_heard(transcript.text) for transcript in transcripts]
    assert word_error_rate(references, hypotheses) < 0.12, hypotheses
    assert {transcript.language_code for transcript in transcripts} == {"eng"}
    assert all(transcript.language_probability > 0.5 for transcript in transcripts)


def test_words_are_timed_in_order_within_the_audio(transcripts):
    for transcript in transcripts:
        words = transcript.words
        assert [word.type for word in words[::2]] == ["word"] * len(words[::2])
        assert all(word.type == "spacing" and word.text == " " for word in words[1::2])
        assert "".join(word.text for word in words) == transcript.text
        starts = [word.start for word in words]
        assert starts == sorted(starts)
        assert all(word.start <= word.end <= transcript.audio_duration_secs for word in words)
        assert all(word.logprob <= 0 for word in words)
    # the recordings' first words start near their beginnings, the last ends near their ends
    first = transcripts[0]
    assert first.words[0].start < 1.0
    assert first.words[-1].end > first.audio_duration_secs - 1.5


def test_usage_counts_the_seconds_transcribed_apart_from_characters(stt_server, recordings):
    key = create_key(stt_server.env, "stt-usage")
    client = ElevenLabs(base_url=stt_server.url, api_key=key)
    with recordings[1].path.open("rb") as audio:
        transcript = client.speech_to_text.convert(file=audio, model_id="scribe_v1")
    subscription = httpx.get(f"{stt_server.url}/v1/user/subscription", headers={"xi-api-key": key}).json()
    assert subscription["speech_to_text_seconds"] == pytest.approx(transcript.audio_duration_secs, abs=0.01)
    assert transcript.audio_duration_secs == pytest.approx(2.99, abs=0.05)
    assert subscription["character_count"] == 0


def test_intone_speech_in_spanish_is_detected_and_transcribed(client):
    text = "El perro corre por el parque todas las mañanas."
    audio = b"".join(
        client.text_to_speech.convert(
            voice_id="Rachel", text=text, model_id="eleven_multilingual_v2", language_code="es"
        )
    )
    transcript = client.speech_to_text.convert(file=("habla.mp3", audio), model_id="scribe_v1")
    assert transcript.language_code == "spa"
    assert word_error_rate([text], [transcript.text]) <= 0.25, transcript.text


def test_raw_pcm_reads_as_the_same_recording(client, recordings):
    wav = recordings[1].path.read_bytes()
    pcm = wav[44:]  # the package's WAVs are plain 44-byte-header 16 kHz mono 16-bit files
    transcript = client.speech_to_text.convert(
        file=("audio.pcm", pcm), model_id="scribe_v1", file_format="pcm_s16le_16", language_code="en"
    )
    assert word_error_rate([recordings[1].said], [transcript.text]) < 0.2, transcript.text
    assert transcript.audio_duration_secs == pytest.approx((len(wav) - 44) / 32000, abs=0.01)


def test_additional_formats_and_character_timings(client, recordings):
    with recordings[1].path.open("rb") as audio:
        transcript = client.speech_to_text.convert(
            file=audio,
            model_id="scribe_v1",
            timestamps_granularity="character",
            additional_formats=[
                {"format": "srt"},
                {"format": "txt", "include_timestamps": False},
                {"format": "segmented_json", "max_segment_chars": 20},
            ],
        )
    srt, txt, segmented = transcript.additional_formats
    assert (srt.requested_format, srt.file_extension, srt.is_base_64_encoded) == ("srt", "srt", False)
    blocks = srt.content.strip().split("\n\n")
    assert re.fullmatch(r"1\n00:00:0\d,\d{3} --> 00:00:0\d,\d{3}\n.+", blocks[0], re.S)
    assert txt.content.strip() == transcript.text.strip()
    body = json.loads(segmented.content)
    assert body["language_code"] == "eng"
    assert len(body["segments"]) > 1
    assert all(len(segment["text"]) <= 20 for segment in body["segments"])
    assert " ".join(segment["text"] for segment in body["segments"]) == transcript.text.strip()
    for word in transcript.words:
        if word.type == "word":
            assert "".join(char.text for char in word.characters) == word.text
            assert word.characters[0].start == word.start
            assert word.characters[-1].end == pytest.approx(word.end, abs=0.002)


def test_without_timestamps_words_have_no_times(client, recordings):
    with recordings[1].path.open("rb") as audio:
        transcript = client.speech_to_text.convert(
            file=audio, model_id="scribe_v1", timestamps_granularity="none"
        )
    assert transcript.words
    assert all(word.start is None and word.end is None for word in transcript.words)


def _refusal(call) -> tuple[int, dict]:
    with pytest.raises(ApiError) as raised:
        call()
    return raised.value.status_code, raised.value.body


@pytest.mark.parametrize(
    ("options", "status", "code"),
    [
        ({"model_id": "eleven_multilingual_v2"}, 400, "model_not_found"),
        ({"model_id": "scribe_v2_realtime"}, 400, "model_not_found"),
        ({"model_id": "scribe_v1", "language_code": "xx"}, 400, "unsupported_language"),
        ({"model_id": "scribe_v1", "webhook": True}, 400, "webhooks_not_supported"),
        ({"model_id": "scribe_v1", "additional_formats": [{"format": "pdf"}]}, 400, "unsupported_format"),
    ],
)
def test_options_that_cannot_be_honoured_are_refused(client, recordings, options, status, code):
    with recordings[1].path.open("rb") as audio:
        got, body = _refusal(lambda: client.speech_to_text.convert(file=audio, **options))
    assert (got, body["detail"]["status"]) == (status, code)


def test_a_source_url_is_refused_without_fetching(client):
    got, body = _refusal(
        lambda: client.speech_to_text.convert(model_id="scribe_v1", source_url="https://example.com/a.mp3")
    )
    assert (got, body["detail"]["status"]) == (400, "unsupported_source")


def test_no_file_non_audio_and_too_large_files_are_refused(client):
    got, body = _refusal(lambda: client.speech_to_text.convert(model_id="scribe_v1"))
    assert (got, body["detail"]["status"]) == (400, "invalid_parameters")
    text = io.BytesIO(b"This is a text file, not a recording.\n" * 20)
    got, body = _refusal(
        lambda: client.speech_to_text.convert(file=("notes.txt", text), model_id="scribe_v1")
    )
    assert (got, body["detail"]["status"]) == (400, "invalid_audio")
    large = ("large.wav", b"\0" * (MAX_BYTES + 100_000))
    got, body = _refusal(lambda: client.speech_to_text.convert(file=large, model_id="scribe_v1"))
    assert (got, body["detail"]["status"]) == (413, "payload_too_large")
    assert "INTONE_MAX_TRANSCRIPTION_BYTES" in body["detail"]["message"]


def test_a_key_without_the_speech_to_text_scope_is_refused(stt_server, recordings):
    key = create_key(stt_server.env, "tts-only", "--scopes", "text_to_speech")
    client = ElevenLabs(base_url=stt_server.url, api_key=key)
    with recordings[1].path.open("rb") as audio:
        got, body = _refusal(lambda: client.speech_to_text.convert(file=audio, model_id="scribe_v1"))
    assert (got, body["detail"]["status"]) == (403, "missing_permissions")


def test_a_malformed_field_is_a_validation_error(stt_server, recordings: list[Recording]):
    path: Path = recordings[1].path
    response = httpx.post(
        f"{stt_server.url}/v1/speech-to-text",
        headers=stt_server.headers,
        data={"model_id": "scribe_v1", "temperature": "5"},
        files={"file": (path.name, path.read_bytes(), "audio/wav")},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "temperature"]

"""`POST /v1/audio/transcriptions` through the official `openai` Python SDK, unchanged, on real Whisper base
and real read speech (a LibriVox recording from Debian's pocketsphinx-testdata)."""

from __future__ import annotations

import re

import openai
import pytest
from openai import OpenAI

from tests.utils.recordings import Recording, librivox
from tests.utils.whisper import word_error_rate

pytestmark = pytest.mark.slow

SECONDS = 2.9  # the recording's length, near enough


@pytest.fixture(scope="module")
def client(server) -> OpenAI:
    return OpenAI(base_url=f"{server.url}/v1", api_key=server.api_key, max_retries=0)


@pytest.fixture(scope="module")
def recording() -> Recording:
    return next(item for item in librivox() if item.path.name.endswith("-0880.wav"))  # about 3 s


def _transcribe(client: OpenAI, recording: Recording, **fields):
    with recording.path.open("rb") as audio:
        return client.audio.transcriptions.create(file=audio, **{"model": "whisper-1", **fields})


def _cue_text(subtitles: str) -> str:
    """The spoken text of SRT or WebVTT: every line that is no header, number, timing or blank."""
    lines = subtitles.splitlines()
    return " ".join(
        line for line in lines if line and line != "WEBVTT" and not re.match(r"^[\d:,. >-]+$", line)
    )


def test_json_has_the_text_and_the_seconds_used(client, recording):
    result = _transcribe(client, recording, model="gpt-4o-mini-transcribe", language="en")
    assert word_error_rate([recording.said], [result.text]) <= 0.2
    assert result.usage.type == "duration"
    assert abs(result.usage.seconds - SECONDS) < 0.5


def test_text_is_the_plain_transcript(client, recording):
    text = _transcribe(client, recording, response_format="text")
    assert isinstance(text, str)
    assert word_error_rate([recording.said], [text]) <= 0.2


@pytest.mark.parametrize(("response_format", "separator"), [("srt", ","), ("vtt", ".")])
def test_subtitles_time_the_speech(client, recording, response_format, separator):
    subtitles = _transcribe(client, recording, response_format=response_format)
    assert subtitles.startswith("WEBVTT\n\n" if response_format == "vtt" else "1\n")
    timings = re.findall(rf"(\d\d):(\d\d):(\d\d){re.escape(separator)}(\d\d\d) --> ", subtitles)
    assert timings and timings[0][:3] == ("00", "00", "00")
    assert word_error_rate([recording.said], [_cue_text(subtitles)]) <= 0.2


def test_verbose_json_has_segments_and_words_in_order_within_the_audio(client, recording):
    result = _transcribe(
        client, recording, response_format="verbose_json", timestamp_granularities=["word", "segment"]
    )
    assert result.language == "english"
    assert abs(result.duration - SECONDS) < 0.5
    assert word_error_rate([recording.said], [" ".join(word.word for word in result.words)]) <= 0.2
    times = [time for word in result.words for time in (word.start, word.end)]
    assert times == sorted(times) and times[0] >= 0 and times[-1] <= result.duration
    assert result.segments and result.segments[0].start <= result.words[0].start
    assert " ".join(segment.text for segment in result.segments).strip() == result.text


def _error(raised: pytest.ExceptionInfo[openai.APIStatusError]) -> dict[str, object]:
    body = raised.value.response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"stream": True}, "stream"),
        ({"timestamp_granularities": ["word"]}, "timestamp_granularities[]"),
        ({"response_format": "diarized_json"}, "response_format"),
    ],
)
def test_what_is_not_done_is_a_400(client, recording, fields, param):
    with pytest.raises(openai.BadRequestError) as raised:
        _transcribe(client, recording, **fields)
    assert _error(raised)["param"] == param


def test_a_file_that_is_no_audio_is_a_400(client):
    with pytest.raises(openai.BadRequestError) as raised:
        client.audio.transcriptions.create(file=("notes.txt", b"not audio at all"), model="whisper-1")
    assert (_error(raised)["param"], _error(raised)["code"]) == ("file", "invalid_audio")


def test_an_unknown_model_is_404(client, recording):
    with pytest.raises(openai.NotFoundError) as raised:
        _transcribe(client, recording, model="whisper-2")
    assert _error(raised)["code"] == "model_not_found"


def test_a_bad_key_is_401(server, recording):
    client = OpenAI(base_url=f"{server.url}/v1", api_key="sk-not-an-intone-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as raised:
        _transcribe(client, recording)
    assert _error(raised)["code"] == "invalid_api_key"

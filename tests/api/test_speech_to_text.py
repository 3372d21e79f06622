"""Speech to text through the official SDK, on real Whisper base: POST /v1/speech-to-text on real read
speech (LibriVox), Intone's own Spanish speech with the language detected, timings, exports, usage and
the refusals; then the realtime socket (manual and VAD commits, mu-law, single-use tokens, refusals)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest
from elevenlabs import AudioFormat, CommitStrategy, RealtimeEvents
from elevenlabs.client import ElevenLabs
from elevenlabs.core.api_error import ApiError
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

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


# The realtime socket, through the SDK's speech_to_text.realtime.connect.

CHUNK_BYTES = 8000  # a quarter of a second of pcm_16000


async def _session(url: str, options: dict, audio: bytes, commit: bool, commits: int = 1) -> list[dict]:
    """Streams `audio` in quarter-second chunks (committing at the end if `commit`) and returns every
    message until `commits` committed transcripts (with timestamps) arrived, or an error."""
    # With a token the SDK sends no key: the client needs one all the same.
    client = ElevenLabs(base_url=url, api_key=options.pop("api_key", "unused"))
    messages: list[dict] = []
    done = asyncio.Event()
    last = "committed_transcript" + ("_with_timestamps" if options.get("include_timestamps") else "")

    def record(data: dict) -> None:
        messages.append(data)
        finished = [m for m in messages if m.get("message_type") == last]
        if len(finished) == commits or "error" in data:
            done.set()

    connection = await client.speech_to_text.realtime.connect({"model_id": "scribe_v2_realtime", **options})
    for event in set(RealtimeEvents) - {RealtimeEvents.OPEN, RealtimeEvents.CLOSE, RealtimeEvents.ERROR}:
        connection.on(event, record)
    connection.on(RealtimeEvents.CLOSE, lambda *_: done.set())
    step = CHUNK_BYTES * options["sample_rate"] // 16_000
    for start in range(0, len(audio), step):
        await connection.send({"audio_base_64": base64.b64encode(audio[start : start + step]).decode()})
    if commit:
        await connection.commit()
    await asyncio.wait_for(done.wait(), 120)
    await connection.close()
    return messages


def _of(messages: list[dict], kind: str) -> list[dict]:
    return [message for message in messages if message["message_type"] == kind]


def test_realtime_manual_commit_with_timestamps(stt_server, recordings):
    recording = recordings[0]
    options = {
        "api_key": stt_server.api_key,
        "audio_format": AudioFormat.PCM_16000,
        "sample_rate": 16000,
        "include_timestamps": True,
    }
    messages = asyncio.run(_session(stt_server.url, options, recording.path.read_bytes()[44:], commit=True))
    started = _of(messages, "session_started")[0]
    assert started["config"]["model_id"] == "scribe_v2_realtime"
    assert started["config"]["commit_strategy"] == "manual"
    (committed,) = _of(messages, "committed_transcript")
    assert word_error_rate([recording.said], [_heard(committed["text"])]) < 0.15, committed["text"]
    (timed,) = _of(messages, "committed_transcript_with_timestamps")
    assert timed["text"] == committed["text"] and timed["language_code"] == "eng"
    assert "".join(word["text"] for word in timed["words"]) == committed["text"]
    assert timed["words"][-1]["end"] <= 7.1
    assert all(message["text"] for message in _of(messages, "partial_transcript"))


def test_realtime_vad_commits_each_utterance_on_the_session_clock(stt_server, recordings):
    silence = b"\0" * 32_000 * 2  # two seconds
    first, second = recordings[1], recordings[4]
    audio = first.path.read_bytes()[44:] + silence + second.path.read_bytes()[44:] + silence
    options = {
        "api_key": stt_server.api_key,
        "audio_format": AudioFormat.PCM_16000,
        "sample_rate": 16000,
        "commit_strategy": CommitStrategy.VAD,
        "include_timestamps": True,
        "language_code": "en",
    }
    messages = asyncio.run(_session(stt_server.url, options, audio, commit=False, commits=2))
    texts = [message["text"] for message in _of(messages, "committed_transcript")]
    assert word_error_rate([first.said, second.said], [_heard(text) for text in texts]) < 0.2, texts
    later = _of(messages, "committed_transcript_with_timestamps")[1]["words"]
    assert later[0]["start"] >= 2.99 + 1.5  # after the first recording and the silence that committed it


def test_realtime_ulaw_through_a_single_use_token(stt_server, recordings):
    recording = recordings[1]
    token = ElevenLabs(base_url=stt_server.url, api_key=stt_server.api_key).tokens.single_use.create(
        "realtime_scribe"
    )
    ulaw = _ulaw_8000(recording.path)
    options = {"token": token.token, "audio_format": AudioFormat.ULAW_8000, "sample_rate": 8000}
    messages = asyncio.run(_session(stt_server.url, options, ulaw, commit=True))
    (committed,) = _of(messages, "committed_transcript")
    assert word_error_rate([recording.said], [committed["text"]]) < 0.3, committed["text"]
    # A token opens one socket. The refused one sends nothing: the server may close it before any send.
    again = asyncio.run(_session(stt_server.url, dict(options), b"", commit=False))
    assert _of(again, "auth_error")


def _ulaw_8000(path: Path) -> bytes:
    """The recording as G.711 mu-law at 8 kHz, as a telephone line carries it (PyAV's encoder)."""
    out = io.BytesIO()
    with av.open(str(path)) as source, av.open(out, mode="w", format="mulaw") as target:
        stream = target.add_stream("pcm_mulaw", rate=8000, layout="mono")
        for frame in source.decode(audio=0):
            frame.pts = None
            for packet in stream.encode(frame):
                target.mux(packet)
        for packet in stream.encode(None):
            target.mux(packet)
    return out.getvalue()


def _socket_url(server: Server, query: str) -> str:
    return server.url.replace("http://", "ws://") + f"/v1/speech-to-text/realtime?{query}"


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("model_id=scribe_v1&audio_format=pcm_16000", "invalid_request"),
        ("model_id=scribe_v2_realtime&audio_format=mp3_44100", "input_error"),
        ("model_id=scribe_v2_realtime&language_code=xx", "invalid_request"),
    ],
)
def test_realtime_sessions_that_cannot_start_say_why(stt_server, query, kind):
    url = _socket_url(stt_server, query)
    with connect(url, additional_headers=stt_server.headers) as ws:
        message = json.loads(ws.recv(timeout=30))
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=30)
    assert message["message_type"] == kind
    assert ws.close_code == 1008


def test_realtime_refuses_a_missing_key_and_unreadable_audio(stt_server):
    url = _socket_url(stt_server, "model_id=scribe_v2_realtime")
    with connect(url) as ws:
        assert json.loads(ws.recv(timeout=30))["message_type"] == "auth_error"
    with connect(url, additional_headers=stt_server.headers) as ws:
        assert json.loads(ws.recv(timeout=30))["message_type"] == "session_started"
        ws.send(json.dumps({"message_type": "input_audio_chunk", "audio_base_64": "AAA", "commit": False}))
        refusal = json.loads(ws.recv(timeout=30))
    assert refusal["message_type"] == "input_error"

"""Recordings to transcripts: options checked, audio decoded, Whisper run, its words put in order.

`Transcriber.transcribe` does it all in the calling thread (the CLI, other wire dialects' adapters run
it where they like); `Transcriber.transcribe_on` runs the same steps as engine work of a scheduler job,
one 30-second window of audio per step, so a long recording never holds a worker from other requests for
long and never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Literal

import numpy as np

from intone.audio import decode as audio_decode
from intone.engines.whisper import SAMPLE_RATE, Decoding, Detected, WhisperEngine
from intone.scheduling.scheduler import Job
from intone.speech.errors import UnsupportedLanguage
from intone.transcription.errors import AudioTooLong, InvalidAudio
from intone.transcription.languages import whisper_code
from intone.transcription.models import check_batch_model
from intone.transcription.transcript import Segment, Transcript, Word

if TYPE_CHECKING:
    from faster_whisper.transcribe import Segment as WhisperSegment
    from faster_whisper.transcribe import Word as WhisperWord

FileFormat = Literal["other", "pcm_s16le_16"]
# Whisper writes sounds that are not speech in brackets or parentheses: "(laughs)", "[Music]".
_EVENT = re.compile(r"^\s*[\[(].*[\])][.,!?]*\s*$")
_EVENT_OPEN = re.compile(r"^\s*[\[(]")
_EVENT_CLOSE = re.compile(r"[\])][.,!?]*\s*$")


@dataclass(frozen=True)
class TranscriptionOptions:
    model_id: str = "scribe_v1"
    language_code: str | None = None  # ISO 639-1 or 639-3; None: detected
    file_format: FileFormat = "other"  # "pcm_s16le_16": raw 16-bit little-endian mono at 16 kHz
    tag_audio_events: bool = True  # keep sounds that are not speech as audio events (else drop them)
    temperature: float | None = None  # None: Whisper's fallback ladder from 0
    seed: int | None = None


class Transcriber:
    def __init__(self, engine: WhisperEngine, max_seconds: float) -> None:
        self.engine = engine
        self.max_seconds = max_seconds

    def check(self, options: TranscriptionOptions) -> Decoding:
        """How the options decode; raises ModelNotFound or UnsupportedLanguage."""
        check_batch_model(options.model_id)
        return self.decoding(options.language_code, options.temperature, options.seed)

    def decoding(
        self, language_code: str | None, temperature: float | None = None, seed: int | None = None
    ) -> Decoding:
        """Raises UnsupportedLanguage for a code Whisper does not know. Loads the model on first call (its
        language list)."""
        language = None
        if language_code:
            language = whisper_code(language_code)
            if language is None or language not in self.engine.languages():
                raise UnsupportedLanguage(
                    f"Speech to text does not know the language {language_code!r}; send an ISO 639-1 or "
                    "639-3 code of one of Whisper's 99 languages, or none to detect it."
                )
        return Decoding(language, temperature, seed)

    def decode(self, source: BinaryIO, options: TranscriptionOptions) -> np.ndarray:
        """The recording as 16 kHz float32 mono; raises InvalidAudio or AudioTooLong."""
        try:
            if options.file_format == "pcm_s16le_16":
                return audio_decode.decode_pcm_s16le(source, SAMPLE_RATE, self.max_seconds)
            return audio_decode.decode(source, SAMPLE_RATE, self.max_seconds)
        except audio_decode.UndecodableAudio as error:
            raise InvalidAudio(str(error)) from None
        except audio_decode.AudioTooLong as error:
            raise AudioTooLong(f"{error} Send a shorter one (INTONE_MAX_TRANSCRIPTION_SECONDS).") from None

    def transcribe(self, source: BinaryIO, options: TranscriptionOptions) -> Transcript:
        """The whole transcription in this thread. Raises the errors of `check` and `decode`."""
        decoding = self.check(options)
        return self.transcribe_audio(self.decode(source, options), decoding, options.tag_audio_events)

    def transcribe_audio(self, audio: np.ndarray, decoding: Decoding, tag_audio_events: bool) -> Transcript:
        """Decoded 16 kHz samples to a transcript, in this thread."""
        detected, segments = self.engine.start(audio, decoding)
        return assemble(detected, list(segments), tag_audio_events)

    async def transcribe_on(self, job: Job, source: BinaryIO, options: TranscriptionOptions) -> Transcript:
        """`transcribe`, each stage a step of `job` (decoding, language detection, then one step per
        window of Whisper's), the job's playback clock advancing by the audio each window covered."""
        decoding = await asyncio.to_thread(self.check, options)
        audio = await asyncio.wrap_future(job.submit(lambda: self.decode(source, options), _no_audio))
        detected, segments = await asyncio.wrap_future(
            job.submit(lambda: self.engine.start(audio, decoding), _no_audio)
        )
        decoded: list[WhisperSegment] = []
        covered = _Covered()
        async for segment in job.iterate(segments, covered.advance):
            decoded.append(segment)
        return assemble(detected, decoded, options.tag_audio_events)


def _no_audio(_: object) -> float:
    return 0.0


@dataclass
class _Covered:
    """Seconds of the recording each new segment reaches past the ones before (its job's progress)."""

    until: float = 0.0

    def advance(self, segment: WhisperSegment) -> float:
        reached = max(self.until, segment.end)
        gained, self.until = reached - self.until, reached
        return gained


def assemble(detected: Detected, segments: Iterable[WhisperSegment], tag_audio_events: bool) -> Transcript:
    """Whisper's segments as a transcript: words in order, times never decreasing and within the audio,
    sounds that are not speech as audio events (or dropped)."""
    clock = _Clock(detected.duration)
    kept = []
    for segment in segments:
        words = tuple(_items(_grouped(segment.words or ()), clock, tag_audio_events))
        if words:
            text = "".join(word.text for word in words)
            kept.append(Segment(text, words[0].start, words[-1].end, words))
    return Transcript(detected.language, detected.probability, detected.duration, tuple(kept))


@dataclass
class _Clock:
    """Keeps times in order and inside the recording: Whisper's word times may overlap by a few ms."""

    duration: float
    now: float = 0.0

    def span(self, start: float, end: float) -> tuple[float, float]:
        start = min(max(start, self.now), self.duration)
        end = min(max(end, start), self.duration)
        self.now = end
        return round(start, 3), round(end, 3)


def _grouped(words: Iterable[WhisperWord]) -> Iterator[tuple[str, float, float, float]]:
    """Whisper's words as (text, start, end, probability), a bracketed sound split over several tokens
    ("(", "laughs)") joined into one."""
    pending: list[WhisperWord] = []
    for word in words:
        if pending or (_EVENT_OPEN.match(word.word) and not _EVENT_CLOSE.search(word.word)):
            pending.append(word)
            if _EVENT_CLOSE.search(word.word):
                yield _joined(pending)
                pending = []
            continue
        yield word.word, word.start, word.end, word.probability
    if pending:
        yield _joined(pending)


def _joined(words: list[WhisperWord]) -> tuple[str, float, float, float]:
    probability = math.prod(word.probability for word in words)
    return "".join(word.word for word in words), words[0].start, words[-1].end, probability


def _items(
    words: Iterable[tuple[str, float, float, float]], clock: _Clock, tag_audio_events: bool
) -> Iterator[Word]:
    """Words with a spacing item before each but the first (Whisper puts the space inside the word)."""
    first = True
    for text, start, end, probability in words:
        event = bool(_EVENT.match(text))
        if event and not tag_audio_events:
            continue
        if not text.strip():
            continue
        if not first:
            gap_start, gap_end = clock.span(clock.now, start)
            yield Word(" ", gap_start, gap_end, "spacing", 0.0)
        first = False
        begin, finish = clock.span(start, end)
        logprob = math.log(max(probability, 1e-12))
        yield Word(text.strip(), begin, finish, "audio_event" if event else "word", round(logprob, 4))

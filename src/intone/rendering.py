"""Speech windows -> encoded audio pieces: the one path from the synthesizer to bytes.

The CLI and every server endpoint use it, so a format behaves the same everywhere. `render` is a plain
generator, one piece per synthesized window; `render_async` runs each of its steps as a step of a
scheduler job (`intone.scheduling`), so the event loop never computes audio and the job's deadlines
order the work.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from intone.audio.encoders import StreamEncoder
from intone.audio.formats import OutputFormat
from intone.audio.resample import resample
from intone.scheduling.scheduler import Job
from intone.speech import dialogue
from intone.speech.alignment import Alignment
from intone.speech.dialogue import DialoguePlan, VoiceSegment
from intone.speech.synthesizer import Plan, SpeechChunk, Synthesizer


@dataclass(frozen=True)
class Piece:
    """Encoded bytes for one synthesized window, with the timings of the characters starting in it."""

    audio: bytes
    alignment: Alignment
    normalized_alignment: Alignment
    offset: float = 0.0  # where this window's audio starts, in seconds from the start of its plan
    duration: float = 0.0  # seconds of audio synthesized for it (the encoder may hold some back)


@dataclass(frozen=True)
class DialoguePiece(Piece):
    """A piece of a dialogue, with the voice segments of the turns that end in it."""

    segments: tuple[VoiceSegment, ...] = ()
    engine: str = ""  # the engine that made it; none for the encoder's last bytes


class Renderer:
    """Encodes the windows of one or more plans into one continuous stream (one container header).

    A WebSocket sends its text in segments; they all go through one renderer, so the client gets
    one stream. `finish` flushes what the encoder holds; the next segment then starts a new stream.
    """

    def __init__(self, synthesizer: Synthesizer, fmt: OutputFormat) -> None:
        self.synthesizer = synthesizer
        self.fmt = fmt
        self._encoder: StreamEncoder | None = None

    def render(self, plan: Plan) -> Iterator[Piece]:
        """One piece per synthesized window; the encoder may hold back the newest few milliseconds."""
        for chunk in self.synthesizer.stream(plan):
            yield self.encode(chunk)

    def encode(self, chunk: SpeechChunk) -> Piece:
        """The piece for one window, which continues the stream of those before it."""
        self._encoder = self._encoder or StreamEncoder(self.fmt, chunk.sample_rate)
        chunk = _at_rate(chunk, self._encoder.input_rate)
        audio = self._encoder.write(chunk.audio)
        return Piece(audio, chunk.alignment, chunk.normalized_alignment, chunk.offset, chunk.duration)

    def finish(self) -> bytes:
        encoder, self._encoder = self._encoder, None
        return encoder.finish() if encoder is not None else b""


def _at_rate(chunk: SpeechChunk, rate: int) -> SpeechChunk:
    """The chunk at the stream's rate: a socket's segments may come from engines with other rates (a
    voice's language can change the engine), and one stream has one encoder."""
    if chunk.sample_rate == rate:
        return chunk
    return dataclasses.replace(chunk, audio=resample(chunk.audio, chunk.sample_rate, rate), sample_rate=rate)


def render(synthesizer: Synthesizer, plan: Plan, fmt: OutputFormat) -> Iterator[Piece]:
    """One piece per window, then a last piece with whatever the encoder still held (no timings)."""
    renderer = Renderer(synthesizer, fmt)
    yield from renderer.render(plan)
    yield Piece(renderer.finish(), Alignment.empty(), Alignment.empty())


def render_dialogue(
    synthesizer: Synthesizer, plan: DialoguePlan, fmt: OutputFormat
) -> Iterator[DialoguePiece]:
    """`render` for a dialogue: its turns and the gaps between them as one stream."""
    renderer = Renderer(synthesizer, fmt)
    for turn in dialogue.stream(synthesizer, plan):
        piece = renderer.encode(turn.chunk)
        yield DialoguePiece(**vars(piece), segments=turn.segments, engine=turn.engine)
    yield DialoguePiece(renderer.finish(), Alignment.empty(), Alignment.empty())


def render_async(
    synthesizer: Synthesizer, plan: Plan | DialoguePlan, fmt: OutputFormat, job: Job
) -> AsyncIterator[Piece]:
    job.engine = plan.engine
    if isinstance(plan, DialoguePlan):
        return job.iterate(_measuring(job, render_dialogue(synthesizer, plan, fmt)), seconds=piece_seconds)
    return job.iterate(render(synthesizer, plan, fmt), seconds=piece_seconds)


def _measuring(job: Job, pieces: Iterator[DialoguePiece]) -> Iterator[DialoguePiece]:
    """The pieces, each step's time measuring the engine of the turn it rendered (a dialogue's voices
    may speak through different engines). Runs inside each step, before the step is measured."""
    for piece in pieces:
        job.engine = piece.engine or job.engine
        yield piece


def piece_seconds(piece: Piece) -> float:
    return piece.duration

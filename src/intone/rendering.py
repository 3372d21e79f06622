"""Speech chunks -> encoded audio pieces: the one path from the synthesizer to bytes.

The CLI and every server endpoint use it, so a format behaves the same everywhere. `render` is a plain
generator; `render_async` runs each step on an engine executor so the event loop never computes audio,
and stops starting new chunks as soon as its consumer goes away.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Generator, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TypeVar

from intone.audio.encoders import StreamEncoder
from intone.audio.formats import OutputFormat
from intone.audio.resample import resample
from intone.speech.alignment import Alignment
from intone.speech.synthesizer import Plan, SpeechChunk, Synthesizer

T = TypeVar("T")

# Streams encode the first quarter second of audio on its own: the first bytes then leave after a few
# milliseconds of encoding instead of after encoding the whole first chunk (20-30 ms of MP3 at 44.1 kHz).
FIRST_BYTES_LEAD = 0.25


@dataclass(frozen=True)
class Piece:
    """Encoded bytes for one synthesized chunk, with that chunk's timings (from the response start)."""

    audio: bytes
    alignment: Alignment
    normalized_alignment: Alignment
    offset: float = 0.0  # where this chunk's audio starts, in seconds from the start of its plan


class Renderer:
    """Encodes the chunks of one or more plans into one continuous stream (one container header).

    A WebSocket sends its text in segments; they all go through one renderer, so the client gets
    one stream. `finish` flushes what the encoder holds; the next segment then starts a new stream.
    """

    def __init__(self, synthesizer: Synthesizer, fmt: OutputFormat) -> None:
        self.synthesizer = synthesizer
        self.fmt = fmt
        self._encoder: StreamEncoder | None = None

    def render(self, plan: Plan, lead: float = 0.0) -> Iterator[Piece]:
        """One piece per synthesized chunk; the encoder may hold back the newest few milliseconds.

        With `lead`, the first `lead` seconds of the first chunk are encoded and yielded on their own
        (the chunk's timings go with them), so the first bytes leave before the rest is encoded.
        """
        for index, chunk in enumerate(self.synthesizer.stream(plan)):
            self._encoder = self._encoder or StreamEncoder(self.fmt, chunk.sample_rate)
            chunk = _at_rate(chunk, self._encoder.input_rate)
            split = round(lead * chunk.sample_rate) if index == 0 else 0
            if 0 < split < len(chunk.audio):
                first = self._encoder.write(chunk.audio[:split])
                yield Piece(first, chunk.alignment, chunk.normalized_alignment, chunk.offset)
                rest = self._encoder.write(chunk.audio[split:])
                yield Piece(
                    rest, Alignment.empty(), Alignment.empty(), chunk.offset + split / chunk.sample_rate
                )
            else:
                audio = self._encoder.write(chunk.audio)
                yield Piece(audio, chunk.alignment, chunk.normalized_alignment, chunk.offset)

    def finish(self) -> bytes:
        encoder, self._encoder = self._encoder, None
        return encoder.finish() if encoder is not None else b""


def _at_rate(chunk: SpeechChunk, rate: int) -> SpeechChunk:
    """The chunk at the stream's rate: a socket's segments may come from engines with other rates (a
    voice's language can change the engine), and one stream has one encoder."""
    if chunk.sample_rate == rate:
        return chunk
    return dataclasses.replace(chunk, audio=resample(chunk.audio, chunk.sample_rate, rate), sample_rate=rate)


def render(synthesizer: Synthesizer, plan: Plan, fmt: OutputFormat, lead: float = 0.0) -> Iterator[Piece]:
    """One piece per chunk (see `Renderer.render` for `lead`), then a last piece with whatever the
    encoder still held (no timings)."""
    renderer = Renderer(synthesizer, fmt)
    yield from renderer.render(plan, lead)
    yield Piece(renderer.finish(), Alignment.empty(), Alignment.empty())


_END = object()


async def iterate_on(executor: Executor, iterator: Generator[T, None, None]) -> AsyncIterator[T]:
    """Steps a blocking generator on `executor`, one item per call.

    When the consumer stops early (a client disconnected), a step already running finishes in its
    thread, then the generator is closed; no further step starts.
    """
    running = None
    try:
        while True:
            running = executor.submit(next, iterator, _END)
            item = await asyncio.wrap_future(running)
            running = None
            if item is _END:
                return
            yield item  # type: ignore[misc]
    finally:
        if running is not None and not running.cancel():
            running.add_done_callback(lambda _: iterator.close())
        else:
            iterator.close()


def render_async(
    synthesizer: Synthesizer, plan: Plan, fmt: OutputFormat, executor: Executor, lead: float = 0.0
) -> AsyncIterator[Piece]:
    return iterate_on(executor, render(synthesizer, plan, fmt, lead))

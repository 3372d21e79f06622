"""Speech chunks -> encoded audio pieces: the one path from the synthesizer to bytes.

The CLI and every server endpoint use it, so a format behaves the same everywhere. `render` is a plain
generator; `render_async` runs each step on an engine executor so the event loop never computes audio,
and stops starting new chunks as soon as its consumer goes away.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Generator, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TypeVar

from intone.audio.encoders import StreamEncoder
from intone.audio.formats import OutputFormat
from intone.speech.alignment import Alignment
from intone.speech.synthesizer import Plan, Synthesizer

T = TypeVar("T")


@dataclass(frozen=True)
class Piece:
    """Encoded bytes for one synthesized chunk, with that chunk's timings (from the response start)."""

    audio: bytes
    alignment: Alignment
    normalized_alignment: Alignment


def render(synthesizer: Synthesizer, plan: Plan, fmt: OutputFormat) -> Iterator[Piece]:
    """One piece per chunk, then a last piece with whatever the encoder still held (no timings)."""
    encoder: StreamEncoder | None = None
    for chunk in synthesizer.stream(plan):
        encoder = encoder or StreamEncoder(fmt, chunk.sample_rate)
        yield Piece(encoder.write(chunk.audio), chunk.alignment, chunk.normalized_alignment)
    if encoder is not None:
        yield Piece(encoder.finish(), Alignment.empty(), Alignment.empty())


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
    synthesizer: Synthesizer, plan: Plan, fmt: OutputFormat, executor: Executor
) -> AsyncIterator[Piece]:
    return iterate_on(executor, render(synthesizer, plan, fmt))

"""One realtime text stream: buffered text in, audio messages out (a stream-input socket or one context
of a multi-stream-input socket).

Text goes into a `TextBuffer`, which decides when a segment is ready (the chunk length schedule,
`try_trigger_generation`, `flush`, auto mode). Segments are synthesized one after another by a task
of their own, so reading the socket never waits for synthesis. Each segment is charged to the caller's
quota and holds a concurrency place only while it is synthesized: an idle open socket costs nothing, and
a socket whose client does not take its audio gives its place back meanwhile (`intone.api.places`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from starlette.websockets import WebSocketDisconnect

from intone.accounts.caller import Caller
from intone.accounts.scopes import Scope
from intone.api.auth import AuthError, check_scope, current
from intone.api.errors import ApiError
from intone.api.grants import credits_for, grant
from intone.api.places import Place
from intone.api.state import Services
from intone.audio.formats import OutputFormat
from intone.cluster.health import RedisUnavailable
from intone.rendering import Piece, Renderer, piece_seconds
from intone.speech.alignment import Alignment
from intone.speech.errors import EngineUnavailable, SpeechError
from intone.speech.models import get_model
from intone.speech.synthesizer import SpeechRequest
from intone.speech.text.buffer import TextBuffer
from intone.speech.text.speakable import speakable

log = logging.getLogger("intone.api")

Send = Callable[[dict[str, Any]], Awaitable[None]]
# Reports a failed stream to the client: error code, message, WebSocket close code.
OnError = Callable[[str, str, int], Awaitable[None]]
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011
CONTEXT_CHARACTERS = 300  # how much earlier text a segment reads as its previous_text


@dataclass(frozen=True)
class _Flush:
    """Marks the end of flushed text: the encoder gives up what it holds."""


def chunk_alignment(alignment: Alignment, offset: float) -> dict[str, list[Any]]:
    """ElevenLabs' WebSocket alignment: integer milliseconds relative to this message's audio."""
    starts = [max(0, round((start - offset) * 1000)) for start in alignment.starts]
    ends = [max(0, round((end - offset) * 1000)) for end in alignment.ends]
    return {
        "chars": list(alignment.characters),
        "charStartTimesMs": starts,
        "charDurationsMs": [max(0, end - start) for start, end in zip(starts, ends, strict=True)],
    }


class RealtimeStream:
    """Generates audio for text as it arrives, in order, and sends it with `send`."""

    def __init__(
        self,
        svc: Services,
        caller: Caller,
        template: SpeechRequest,
        fmt: OutputFormat,
        buffer: TextBuffer,
        send: Send,
        tag: dict[str, str] | None = None,
        on_error: OnError | None = None,
    ) -> None:
        self._svc = svc
        self._caller = caller
        self._template = template
        self._buffer = buffer
        self._send = send
        self._tag = tag or {}
        self._on_error = on_error
        # One job for the whole stream: its listener's playback clock runs across segments.
        self._job = svc.job(caller.tier.priority, live=True)
        self._model = get_model(template.model_id)
        self.character_limit = self._model.character_limit
        self._renderer = Renderer(svc.synthesizer, fmt)
        self._queue: asyncio.Queue[str | _Flush | None] = asyncio.Queue()
        self._spoken = ""
        self._carry = ""  # a high surrogate whose pair is still to come
        self._working = False
        self._stopped = False
        self._charged = 0  # characters of this stream's segments that were charged and kept
        self._queued = 0  # characters of the segments in the queue
        self._current = 0  # characters of the segment being synthesized
        self._task = asyncio.create_task(self._generate())

    @property
    def busy(self) -> bool:
        """Audio is being made or waits to be: the client is not idle, it is listening."""
        return self._working or not self._queue.empty()

    @property
    def caller(self) -> Caller:
        """The caller as its key was at the latest segment."""
        return self._caller

    @property
    def waiting(self) -> int:
        """Characters added and not yet spoken: buffered, queued as segments, or being synthesized."""
        return len(self._buffer.pending) + self._queued + self._current

    def credits_waiting(self, extra: int = 0) -> int:
        """What the text not yet charged (buffered or queued), and `extra` characters more, will cost
        when its segments are charged (as `grant` charges them: the stream's text as a whole)."""
        uncharged = len(self._buffer.pending) + self._queued + extra
        return credits_for(self._model, self._charged + uncharged) - credits_for(self._model, self._charged)

    def add(self, text: str, *, trigger: bool = False, flush: bool = False) -> None:
        """Raises ValueError for text with an unpaired UTF-16 surrogate."""
        text, self._carry = join_surrogates(self._carry + text)
        segments = self._buffer.add(text)
        if trigger:
            segments += self._buffer.trigger()
        for segment in segments:
            self._enqueue(segment)
        if flush:
            self.flush()

    def flush(self) -> None:
        rest = self._buffer.flush()
        if rest is not None:
            self._enqueue(rest)
        self._queue.put_nowait(_Flush())

    def _enqueue(self, segment: str) -> None:
        self._queued += len(segment)
        self._queue.put_nowait(segment)

    async def finish(self) -> None:
        """Speaks everything still buffered, waits for it, and sends the final message."""
        self.flush()
        self._queue.put_nowait(None)
        await self._task
        await self._send({"audio": None, "isFinal": True, **self._tag})

    async def cancel(self) -> None:
        """Stops at once: nothing more is synthesized (a segment's running chunk ends in its thread)."""
        # The flag and the None stop the task even if the cancellation is lost on its way (a wait that
        # completes just as it is cancelled may swallow it).
        self._stopped = True
        self._queue.put_nowait(None)
        self._job.cancel()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _generate(self) -> None:
        try:
            while (item := await self._queue.get()) is not None and not self._stopped:
                self._working = True
                if isinstance(item, _Flush):
                    rest = self._renderer.finish()
                    if rest:
                        await self._send(self._message(Piece(rest, Alignment.empty(), Alignment.empty())))
                else:
                    self._queued -= len(item)
                    self._current = len(item)
                    if speakable(item):  # a segment with nothing to speak is skipped, uncharged
                        await self._speak(item)
                self._working, self._current = False, 0
        except (EngineUnavailable, RedisUnavailable) as error:  # the server's fault, said with what fixes it
            log.error("a realtime stream cannot synthesize: %s", error.message)
            await self._fail(error.status, error.message, INTERNAL_ERROR)
        # A request the plan refused; over quota or no place in time; the key disabled or deleted meanwhile.
        except (SpeechError, ApiError, AuthError) as error:
            await self._fail(error.status, error.message, POLICY_VIOLATION)
        except WebSocketDisconnect:
            pass  # the client left; the socket's reader notices and cleans up
        except Exception:
            log.exception("a realtime stream failed")
            await self._fail(
                "internal_error", "Synthesis failed on the server; its log says why.", INTERNAL_ERROR
            )
        finally:
            self._working, self._current = False, 0

    async def _fail(self, error: str, message: str, code: int) -> None:
        if self._on_error is not None:
            await self._on_error(error, message, code)

    async def _speak(self, segment: str) -> None:
        request = replace(self._template, text=segment, previous_text=self._spoken[-CONTEXT_CHARACTERS:])
        plan = await asyncio.to_thread(self._svc.synthesizer.plan, request)
        if plan.language_source == "detected":
            # One stream speaks one language: short later segments ("Sí.") cannot flip it back.
            self._template = replace(self._template, language=plan.language)
        self._spoken = (self._spoken + segment)[-CONTEXT_CHARACTERS:]
        self._caller = await asyncio.to_thread(current, self._svc, self._caller)
        check_scope(self._caller, Scope.TEXT_TO_SPEECH)
        self._svc.calibrate_soon(plan)
        granted = await grant(self._svc, self._caller, plan, len(segment), self._charged)
        place = Place(self._svc, self._caller, plan, len(segment), granted.admitted)
        delivered = False
        try:
            self._job.engine = plan.engine
            pieces = self._job.iterate(self._renderer.render(plan), piece_seconds)
            async with contextlib.aclosing(pieces):
                while True:
                    await place.take()  # a window is computed only with a place
                    piece = await anext(pieces, None)
                    if piece is None or self._stopped:
                        return
                    if piece.audio or piece.alignment.characters:
                        await place.send(self._send(self._message(piece)))
                        delivered = True
        finally:
            await place.release()
            await granted.end(delivered)
            if delivered:
                self._charged += len(segment)

    def _message(self, piece: Piece) -> dict[str, Any]:
        message: dict[str, Any] = {"audio": base64.b64encode(piece.audio).decode(), "isFinal": False}
        if piece.alignment.characters:
            message["alignment"] = chunk_alignment(piece.alignment, piece.offset)
            message["normalizedAlignment"] = chunk_alignment(piece.normalized_alignment, piece.offset)
        return {**message, **self._tag}


def join_surrogates(text: str) -> tuple[str, str]:
    """Joins UTF-16 surrogate pairs (a JavaScript client may split an emoji across two messages) and
    holds back a trailing high surrogate for the next message; raises ValueError for an unpaired one."""
    carry = ""
    if text and "\ud800" <= text[-1] <= "\udbff":
        text, carry = text[:-1], text[-1]
    if any("\ud800" <= char <= "\udfff" for char in text):
        try:
            text = text.encode("utf-16", "surrogatepass").decode("utf-16")
        except UnicodeDecodeError:
            raise ValueError(
                "The text holds an unpaired UTF-16 surrogate, which is not a character."
            ) from None
    return text, carry

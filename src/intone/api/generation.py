"""One generation's way from a plan to the client, shared by text to speech and text to dialogue.

A route plans its speech (everything that can be wrong is found then, before the first byte, so errors
always arrive as a proper JSON error, never as a cut stream), then `admit` charges the caller's credits
and takes a place, and `whole` or `streamed` renders the audio, gives the place back, refunds the credits
when nothing was delivered and keeps the generation in the history.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.types import Message, Receive, Send
from starlette.types import Scope as AsgiScope

from intone.accounts.caller import Caller
from intone.api.errors import ApiError
from intone.api.grants import Grant, grant
from intone.api.places import Place
from intone.api.schemas import AudioWithTimestamps, CharacterAlignment
from intone.api.state import Services, services
from intone.audio.encoders import with_wav_sizes
from intone.audio.formats import (
    ALL_FORMATS,
    DEFAULT_FORMAT,
    STREAMING_FORMATS,
    OutputFormat,
    parse_output_format,
)
from intone.rendering import Piece, render_async
from intone.scheduling.scheduler import Job
from intone.speech.dialogue import DialoguePlan
from intone.speech.settings import VoiceSettingValues
from intone.speech.synthesizer import Plan
from intone.speech.voices import Voice
from intone.store.history import NewItem

log = logging.getLogger("intone.api")
ServicesDep = Annotated[Services, Depends(services)]
VOICE_CATEGORY = "premade"
Speech = Plan | DialoguePlan

# The media type follows output_format (see intone.audio.formats).
AUDIO_CONTENT: dict[str, object] = {
    media_type: {"schema": {"type": "string", "format": "binary"}}
    for media_type in dict.fromkeys(parse_output_format(name).media_type for name in ALL_FORMATS)
}
STREAMING_AUDIO_CONTENT = {
    media_type: AUDIO_CONTENT[media_type]
    for media_type in dict.fromkeys(parse_output_format(name).media_type for name in STREAMING_FORMATS)
}
NDJSON = "application/x-ndjson"
# The OpenAPI descriptions of the routes' answers.
AUDIO_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": AUDIO_CONTENT, "description": "The generated audio file"}
}
STREAMING_AUDIO_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": STREAMING_AUDIO_CONTENT, "description": "Audio, sent as it is made"}
}


def ndjson_responses(fields: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {NDJSON: {}}, "description": f"One JSON object per line: {fields}"}}


def _formats_help(names: tuple[str, ...]) -> str:
    return f"codec_samplerate[_bitrate]. One of: {', '.join(names)}."


class GenerationOptions(BaseModel):
    """The query parameters every generation takes."""

    enable_logging: bool = Field(default=True, description="Keep this generation in the history.")
    output_format: str = Field(default=DEFAULT_FORMAT, description=_formats_help(ALL_FORMATS))

    def logged(
        self, request: Request, caller: Caller, voice: Voice, settings: VoiceSettingValues
    ) -> Logged | None:
        """What the history keeps of this generation; None when it asked not to be kept."""
        if not self.enable_logging:
            return None
        return Logged(request.state.request_id, caller.subject, voice, settings, self.output_format)


class StreamingGenerationOptions(GenerationOptions):
    output_format: str = Field(default=DEFAULT_FORMAT, description=_formats_help(STREAMING_FORMATS))


@dataclass
class Logged:
    """What a generation keeps in the history besides its speech: who asked, and with which voice."""

    request_id: str
    owner: str
    voice: Voice
    settings: VoiceSettingValues
    output_format: str


@dataclass
class Generation:
    speech: Speech
    fmt: OutputFormat
    grant: Grant
    work: Job  # its engine work, scheduled by its playback deadline and the key's priority
    log: Logged | None  # what to keep in the history once the audio is complete; None: nothing
    delivered: bool = False  # audio reached the client: its credits stay spent

    @property
    def headers(self) -> dict[str, str]:
        return {
            "x-character-count": str(len(self.speech.text)),
            # The language spoken, and how it was chosen (requested, detected, or English as a fallback).
            "content-language": self.speech.language,
            "x-language-source": self.speech.language_source,
            "character-cost": str(self.grant.credits),
            "current-concurrent-requests": str(self.grant.current),
            "maximum-concurrent-requests": str(self.grant.maximum),
            # How long the request queued for a place (standard Server-Timing, shown by browsers' tools).
            "server-timing": f"queue;dur={self.grant.admitted.waited * 1000:.1f}",
        }


async def admit(
    svc: Services,
    caller: Caller,
    speech: Speech,
    fmt: OutputFormat,
    request: Request,
    streaming: bool,
    logged: Logged | None,
) -> Generation:
    """Charges the speech's characters and waits for a place; the generation is then ready to render."""
    granted = await _unless_gone(request, grant(svc, caller, speech, len(speech.text)))
    return Generation(speech, fmt, granted, svc.job(caller.tier.priority, live=streaming), logged)


async def _unless_gone(request: Request, granting: Awaitable[Grant]) -> Grant:
    """The grant, unless the client goes away while it waits for a place: a request nobody waits for
    must not hold a place in the queue, then run. Raises ApiError 499 (nginx's "client closed request")."""
    task = asyncio.ensure_future(granting)
    gone = asyncio.ensure_future(_client_gone(request.receive))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        raise
    finally:
        gone.cancel()
    if task.done():
        return task.result()
    task.cancel()
    try:
        late = await task
    except (asyncio.CancelledError, ApiError):
        pass
    else:  # admitted just as it was cancelled
        await late.end(delivered=False)
    raise ApiError(499, "client_closed_request", "The client closed the connection while the request waited.")


def _pieces(svc: Services, job: Generation) -> AsyncIterator[Piece]:
    return render_async(svc.synthesizer, job.speech, job.fmt, job.work)


async def _collect(svc: Services, job: Generation, request: Request) -> list[Piece] | None:
    """Every piece; None when the client left before the end (and so is not charged)."""
    pieces = []
    try:
        async with aclosing(_pieces(svc, job)) as stream:
            async for piece in stream:
                pieces.append(piece)
                if await request.is_disconnected():
                    return None  # nobody is waiting for the rest
        job.delivered = True
    finally:
        await job.grant.end(job.delivered)
    return pieces


async def _keep(svc: Services, job: Generation, audio: bytes) -> None:
    """Adds a completed generation to the history, if it asked to be logged. A failure to record it is
    logged, not sent: the client has its audio (and a stream could no longer turn into an error)."""
    if job.log is None:
        return
    try:
        await run_in_threadpool(svc.store.history.record, _history_item(job, job.log, audio))
    except Exception:
        log.exception("could not record generation %s in the history", job.log.request_id)


def _history_item(job: Generation, logged: Logged, audio: bytes) -> NewItem:
    return NewItem(
        history_item_id=logged.request_id,
        owner=logged.owner,
        request_id=logged.request_id,
        voice_id=logged.voice.voice_id,
        voice_name=logged.voice.name,
        voice_category=VOICE_CATEGORY,
        model_id=job.speech.model.model_id,
        text=job.speech.text,
        characters=len(job.speech.text),
        character_count_change_from=job.grant.total - job.grant.credits,
        character_count_change_to=job.grant.total,
        settings=logged.settings.as_dict(),
        output_format=logged.output_format,
        content_type=job.fmt.media_type,
        source="TTS",
        audio=audio,
    )


class _AudioStream(StreamingResponse):
    """A streamed response that gives its place back however it ends, even unstarted, and its credits
    too when no audio went out. While its client does not take the audio, the place is given back
    (`intone.api.places`)."""

    def __init__(self, content: AsyncIterator[bytes], media_type: str, job: Generation, place: Place):
        super().__init__(content, media_type=media_type, headers=job.headers)
        self._job = job
        self._place = place

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        async def paced(message: Message) -> None:
            if message["type"] == "http.response.body":
                await self._place.send(send(message))
            else:
                await send(message)

        # Starlette notices a client that left only when a send fails; a stream waiting for a place (or
        # its next window) would stay queued, then compute a window nobody hears. Watch for it instead.
        streaming = asyncio.ensure_future(super().__call__(scope, receive, paced))
        gone = asyncio.ensure_future(_client_gone(receive))
        try:
            await asyncio.wait({streaming, gone}, return_when=asyncio.FIRST_COMPLETED)
            if streaming.done():
                streaming.result()
        finally:
            gone.cancel()
            if not streaming.done():
                streaming.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await streaming
            await self._place.release()
            await self._job.grant.end(self._job.delivered)


async def _client_gone(receive: Receive) -> None:
    """Returns when the client has gone. The body is read already, so the next ASGI message is the
    disconnect, whenever it comes."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def whole(svc: Services, job: Generation, request: Request) -> tuple[list[Piece], bytes]:
    """Renders a whole response: its pieces, and all their audio."""
    pieces = await _collect(svc, job, request)
    audio = with_wav_sizes(job.fmt, b"".join(piece.audio for piece in pieces or []))
    if pieces is not None:  # a generation the client left half-way is not kept
        await _keep(svc, job, audio)
    return pieces or [], audio


async def audio_response(svc: Services, job: Generation, request: Request) -> Response:
    """The whole audio file."""
    _, audio = await whole(svc, job, request)
    return Response(audio, media_type=job.fmt.media_type, headers=job.headers)


async def timed_response(
    svc: Services, job: Generation, request: Request, timing: Callable[[bytes, list[Piece]], BaseModel]
) -> Response:
    """The whole audio and its timings, as `timing` puts them in one JSON object."""
    pieces, audio = await whole(svc, job, request)
    body = timing(audio, pieces).model_dump_json()
    return Response(body, media_type="application/json", headers=job.headers)


def streamed(
    svc: Services,
    caller: Caller,
    job: Generation,
    encode: Callable[[Piece], bytes | None],
    media_type: str | None = None,
) -> StreamingResponse:
    """Streams `encode(piece)` for each piece (skipping None); the media type is the audio's unless given."""
    place = Place(svc, caller, job.speech, len(job.speech.text), job.grant.admitted)

    async def content() -> AsyncIterator[bytes]:
        audio = bytearray()
        async with aclosing(_pieces(svc, job)) as pieces:
            while True:
                await place.take()  # a window is computed only with a place
                piece = await anext(pieces, None)
                if piece is None:
                    break
                audio += piece.audio
                if data := encode(piece):
                    yield data
                    job.delivered = True
        # Reached only when the client took it all; a stream that sent nothing was refunded, so it is
        # not kept either (its item would claim credits that were given back).
        if job.delivered:
            await _keep(svc, job, with_wav_sizes(job.fmt, bytes(audio)))

    return _AudioStream(content(), media_type or job.fmt.media_type, job, place)


def timed(audio: bytes, pieces: list[Piece]) -> AudioWithTimestamps:
    return AudioWithTimestamps(
        audio_base64=base64.b64encode(audio).decode(),
        alignment=CharacterAlignment.of([piece.alignment for piece in pieces]),
        normalized_alignment=CharacterAlignment.of([piece.normalized_alignment for piece in pieces]),
    )


def ndjson(line: BaseModel) -> bytes:
    """One line of a stream of JSON objects."""
    return json.dumps(line.model_dump(), ensure_ascii=False).encode() + b"\n"

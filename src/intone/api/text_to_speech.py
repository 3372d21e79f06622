"""The four text-to-speech endpoints: audio, streamed audio, and both again with character timings.

Everything that can be wrong with a request is found before the first byte is sent (format, voice,
model, language, limits), so errors always arrive as a proper JSON error, never as a cut stream.
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
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.types import Message, Receive, Send
from starlette.types import Scope as AsgiScope

from intone.accounts.caller import Caller
from intone.accounts.scopes import Scope
from intone.api.auth import require
from intone.api.errors import ApiError, documented
from intone.api.grants import Grant, grant
from intone.api.lexicons import lexicon_for
from intone.api.places import Place
from intone.api.schemas import (
    AsciiDigits,
    AudioWithTimestamps,
    CharacterAlignment,
    TextToSpeechBody,
)
from intone.api.state import Services, services, voice_and_settings
from intone.audio.encoders import WAV_HEADER_SIZE, wav_header
from intone.audio.formats import (
    ALL_FORMATS,
    DEFAULT_FORMAT,
    STREAMING_FORMATS,
    OutputFormat,
    parse_output_format,
)
from intone.rendering import Piece, render_async
from intone.scheduling.scheduler import Job
from intone.speech.settings import VoiceSettingValues
from intone.speech.synthesizer import Plan, SpeechRequest
from intone.speech.voices import Voice
from intone.store.history import NewItem, UnknownRequestIds

router = APIRouter(tags=["text-to-speech"], responses=documented(400, 401, 403, 404, 429))
log = logging.getLogger("intone.api")


@dataclass
class _Job:
    plan: Plan
    fmt: OutputFormat
    grant: Grant
    work: Job  # its engine work, scheduled by its playback deadline and the key's priority
    log: _Logged | None  # what to keep in the history once the audio is complete; None: nothing
    delivered: bool = False  # audio reached the client: its credits stay spent

    @property
    def headers(self) -> dict[str, str]:
        return {
            "x-character-count": str(len(self.plan.request.text)),
            # The language spoken, and how it was chosen (requested, detected, or English as a fallback).
            "content-language": self.plan.language,
            "x-language-source": self.plan.language_source,
            "character-cost": str(self.grant.credits),
            "current-concurrent-requests": str(self.grant.current),
            "maximum-concurrent-requests": str(self.grant.maximum),
            # How long the request queued for a place (standard Server-Timing, shown by browsers' tools).
            "server-timing": f"queue;dur={self.grant.admitted.waited * 1000:.1f}",
        }


@dataclass
class _Logged:
    request_id: str
    owner: str
    voice: Voice
    settings: VoiceSettingValues
    output_format: str


# The media type follows output_format (see intone.audio.formats).
AUDIO_CONTENT: dict[str, object] = {
    media_type: {"schema": {"type": "string", "format": "binary"}}
    for media_type in dict.fromkeys(parse_output_format(name).media_type for name in ALL_FORMATS)
}
STREAMING_AUDIO_CONTENT = {
    media_type: AUDIO_CONTENT[media_type]
    for media_type in dict.fromkeys(parse_output_format(name).media_type for name in STREAMING_FORMATS)
}


def _formats_help(names: tuple[str, ...]) -> str:
    return f"codec_samplerate[_bitrate]. One of: {', '.join(names)}."


class _Options(BaseModel):
    """The query parameters every text-to-speech endpoint takes."""

    enable_logging: bool = Field(default=True, description="Keep this generation in the history.")
    optimize_streaming_latency: Annotated[int | None, AsciiDigits] = Field(
        default=None,
        ge=0,
        le=4,
        description="0-4: a shorter first chunk as it rises; 4 also turns normalization off.",
    )
    output_format: str = Field(default=DEFAULT_FORMAT, description=_formats_help(ALL_FORMATS))


class _StreamingOptions(_Options):
    output_format: str = Field(default=DEFAULT_FORMAT, description=_formats_help(STREAMING_FORMATS))


Options = Annotated[_Options, Query()]
StreamingOptions = Annotated[_StreamingOptions, Query()]
ServicesDep = Annotated[Services, Depends(services)]
Speaker = Annotated[Caller, Depends(require(Scope.TEXT_TO_SPEECH))]
VOICE_CATEGORY = "premade"


async def _start(
    svc: Services,
    caller: Caller,
    voice_id: str,
    body: TextToSpeechBody,
    options: _Options,
    request: Request,
    streaming: bool,
) -> _Job:
    fmt = parse_output_format(options.output_format, streaming=streaming)
    lexicon = await lexicon_for(svc, caller, body.pronunciation_dictionary_locators)
    previous_text, next_text = await _context(svc, caller, body)
    voice, settings = await run_in_threadpool(voice_and_settings, svc, caller, voice_id, body.voice_settings)
    speech = SpeechRequest.from_api(
        body.text,
        voice.voice_id,
        settings,
        model_id=body.model_id,
        language_code=body.language_code,
        seed=body.seed,
        normalization=body.apply_text_normalization or "auto",
        latency=options.optimize_streaming_latency,
        streaming=streaming,
        previous_text=previous_text,
        next_text=next_text,
        lexicon=lexicon,
    )
    plan = await run_in_threadpool(svc.synthesizer.plan, speech)
    svc.calibrate_soon(plan)
    granted = await _unless_gone(request, grant(svc, caller, plan, len(body.text)))
    logged = (
        _Logged(request.state.request_id, caller.subject, voice, settings, options.output_format)
        if options.enable_logging
        else None
    )
    return _Job(plan, fmt, granted, svc.job(caller.tier.priority, live=streaming), logged)


async def _unless_gone(request: Request, granting: Awaitable[Grant]) -> Grant:
    """The grant, unless the client goes away while it waits for a place: a request nobody waits for
    must not hold a place in the queue, then run. Raises ApiError 499 (nginx's "client closed request")."""
    task = asyncio.ensure_future(granting)
    gone = asyncio.ensure_future(_disconnected(request))
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


async def _disconnected(request: Request) -> None:
    """Returns when the client has gone. The body is read already, so the next ASGI message is the
    disconnect, whenever it comes."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _context(svc: Services, caller: Caller, body: TextToSpeechBody) -> tuple[str, str]:
    """previous_text and next_text; earlier generations named by request id take their place."""
    previous, following = body.previous_text or "", body.next_text or ""
    for field, ids in (
        ("previous_request_ids", body.previous_request_ids),
        ("next_request_ids", body.next_request_ids),
    ):
        if not ids:
            continue
        try:
            texts = await run_in_threadpool(svc.store.history.texts, caller.subject, ids)
        except UnknownRequestIds as error:
            raise ApiError(
                400,
                "invalid_request_ids",
                f"{field} names request ids with no generation in this key's history: "
                f"{', '.join(error.missing)}. Only generations made with enable_logging can be referred to.",
            ) from None
        if field == "previous_request_ids":
            previous = " ".join(texts)
        else:
            following = " ".join(texts)
    return previous, following


def _pieces(svc: Services, job: _Job) -> AsyncIterator[Piece]:
    return render_async(svc.synthesizer, job.plan, job.fmt, job.work)


async def _collect(svc: Services, job: _Job, request: Request) -> list[Piece] | None:
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


async def _keep(svc: Services, job: _Job, audio: bytes) -> None:
    """Adds a completed generation to the history, if it asked to be logged. A failure to record it is
    logged, not sent: the client has its audio (and a stream could no longer turn into an error)."""
    if job.log is None:
        return
    try:
        await run_in_threadpool(svc.store.history.record, _history_item(job, job.log, audio))
    except Exception:
        log.exception("could not record generation %s in the history", job.log.request_id)


def _history_item(job: _Job, logged: _Logged, audio: bytes) -> NewItem:
    return NewItem(
        history_item_id=logged.request_id,
        owner=logged.owner,
        request_id=logged.request_id,
        voice_id=logged.voice.voice_id,
        voice_name=logged.voice.name,
        voice_category=VOICE_CATEGORY,
        model_id=job.plan.model.model_id,
        text=job.plan.request.text,
        characters=len(job.plan.request.text),
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

    def __init__(self, content: AsyncIterator[bytes], media_type: str, job: _Job, place: Place):
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
    """Returns when the client has disconnected (the request body was read before the response)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def _timed(audio: bytes, pieces: list[Piece]) -> AudioWithTimestamps:
    return AudioWithTimestamps(
        audio_base64=base64.b64encode(audio).decode(),
        alignment=CharacterAlignment.of([piece.alignment for piece in pieces]),
        normalized_alignment=CharacterAlignment.of([piece.normalized_alignment for piece in pieces]),
    )


def _line(piece: Piece) -> bytes | None:
    """One NDJSON line; None for a piece with neither audio nor timings."""
    if not piece.audio and not piece.alignment.characters:
        return None
    line = _timed(piece.audio, [piece])
    return json.dumps(line.model_dump(), ensure_ascii=False).encode() + b"\n"


async def _whole(
    svc: Services,
    caller: Caller,
    voice_id: str,
    body: TextToSpeechBody,
    options: _Options,
    request: Request,
) -> tuple[_Job, list[Piece], bytes]:
    """Synthesizes a whole response: the job, its pieces, and all their audio."""
    job = await _start(svc, caller, voice_id, body, options, request, streaming=False)
    pieces = await _collect(svc, job, request)
    audio = _wav_with_sizes(job.fmt, b"".join(piece.audio for piece in pieces or []))
    if pieces is not None:  # a generation the client left half-way is not kept
        await _keep(svc, job, audio)
    return job, pieces or [], audio


async def _streamed(
    svc: Services,
    caller: Caller,
    voice_id: str,
    body: TextToSpeechBody,
    options: _Options,
    request: Request,
    encode: Callable[[Piece], bytes | None],
    media_type: str | None = None,
) -> StreamingResponse:
    """Streams `encode(piece)` for each piece (skipping None); the media type is the audio's unless given."""
    job = await _start(svc, caller, voice_id, body, options, request, streaming=True)
    place = Place(svc, caller, job.plan, len(body.text), job.grant.admitted)

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
            await _keep(svc, job, bytes(audio))

    return _AudioStream(content(), media_type or job.fmt.media_type, job, place)


def _wav_with_sizes(fmt: OutputFormat, audio: bytes) -> bytes:
    """A whole WAV file can state its real sizes (a streamed header cannot)."""
    if fmt.codec != "wav" or len(audio) < WAV_HEADER_SIZE:
        return audio
    return wav_header(fmt.sample_rate, len(audio) - WAV_HEADER_SIZE) + audio[WAV_HEADER_SIZE:]


@router.post(
    "/v1/text-to-speech/{voice_id}",
    response_class=Response,
    responses={200: {"content": AUDIO_CONTENT, "description": "The generated audio file"}},
    summary="Create speech",
)
async def convert(
    voice_id: str,
    body: TextToSpeechBody,
    request: Request,
    svc: ServicesDep,
    caller: Speaker,
    options: Options,
) -> Response:
    job, _, audio = await _whole(svc, caller, voice_id, body, options, request)
    return Response(audio, media_type=job.fmt.media_type, headers=job.headers)


@router.post(
    "/v1/text-to-speech/{voice_id}/stream",
    response_class=StreamingResponse,
    responses={200: {"content": STREAMING_AUDIO_CONTENT, "description": "Audio, sent as it is made"}},
    summary="Stream speech",
)
async def stream(
    voice_id: str,
    body: TextToSpeechBody,
    request: Request,
    svc: ServicesDep,
    caller: Speaker,
    options: StreamingOptions,
) -> StreamingResponse:
    return await _streamed(svc, caller, voice_id, body, options, request, lambda piece: piece.audio)


@router.post("/v1/text-to-speech/{voice_id}/with-timestamps", summary="Create speech with timing")
async def convert_with_timestamps(
    voice_id: str,
    body: TextToSpeechBody,
    request: Request,
    svc: ServicesDep,
    caller: Speaker,
    options: Options,
) -> AudioWithTimestamps:
    job, pieces, audio = await _whole(svc, caller, voice_id, body, options, request)
    result = _timed(audio, pieces)
    return Response(result.model_dump_json(), media_type="application/json", headers=job.headers)


@router.post(
    "/v1/text-to-speech/{voice_id}/stream/with-timestamps",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/x-ndjson": {}},
            "description": "One JSON object per line: audio_base64, alignment, normalized_alignment",
        }
    },
    summary="Stream speech with timing",
)
async def stream_with_timestamps(
    voice_id: str,
    body: TextToSpeechBody,
    request: Request,
    svc: ServicesDep,
    caller: Speaker,
    options: StreamingOptions,
) -> StreamingResponse:
    return await _streamed(svc, caller, voice_id, body, options, request, _line, "application/x-ndjson")

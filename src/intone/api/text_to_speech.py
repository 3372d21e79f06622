"""The four text-to-speech endpoints: audio, streamed audio, and both again with character timings.

Everything that can be wrong with a request is found before the first byte is sent (format, voice,
model, language, limits), so errors always arrive as a proper JSON error, never as a cut stream.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.types import Receive, Scope, Send

from intone.admission.limiter import Slot
from intone.api.errors import documented
from intone.api.schemas import AudioWithTimestamps, CharacterAlignment, TextToSpeechBody, dictionary_ids
from intone.api.state import USAGE_SUBJECT, Services, services, voice_and_settings
from intone.audio.encoders import WAV_HEADER_SIZE, wav_header
from intone.audio.formats import (
    ALL_FORMATS,
    DEFAULT_FORMAT,
    STREAMING_FORMATS,
    OutputFormat,
    parse_output_format,
)
from intone.rendering import FIRST_BYTES_LEAD, Piece, render_async
from intone.speech.dictionaries import check_exist
from intone.speech.synthesizer import Plan, SpeechRequest

router = APIRouter(tags=["text-to-speech"], responses=documented(400, 404))


@dataclass
class _Job:
    plan: Plan
    fmt: OutputFormat
    slot: Slot

    @property
    def headers(self) -> dict[str, str]:
        characters = len(self.plan.request.text)
        return {
            "x-character-count": str(characters),
            "character-cost": str(math.ceil(characters * self.plan.model.cost_multiplier)),
            "current-concurrent-requests": str(self.slot.current),
            "maximum-concurrent-requests": str(self.slot.maximum),
        }


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
    optimize_streaming_latency: int | None = Field(
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


async def _start(
    svc: Services,
    voice_id: str,
    body: TextToSpeechBody,
    options: _Options,
    streaming: bool,
) -> _Job:
    fmt = parse_output_format(options.output_format, streaming=streaming)
    check_exist(dictionary_ids(body.pronunciation_dictionary_locators))
    voice, settings = await run_in_threadpool(voice_and_settings, svc, voice_id, body.voice_settings)
    request = SpeechRequest.from_api(
        body.text,
        voice.voice_id,
        settings,
        model_id=body.model_id,
        language_code=body.language_code,
        seed=body.seed,
        normalization=body.apply_text_normalization or "auto",
        latency=options.optimize_streaming_latency,
        previous_text=body.previous_text or "",
        next_text=body.next_text or "",
    )
    plan = await run_in_threadpool(svc.synthesizer.plan, request)
    slot = await svc.limiter.enter()
    try:
        await run_in_threadpool(svc.store.usage.add, USAGE_SUBJECT, len(body.text))
    except BaseException:
        slot.release()
        raise
    return _Job(plan, fmt, slot)


def _pieces(svc: Services, job: _Job, lead: float = 0.0) -> AsyncIterator[Piece]:
    return render_async(svc.synthesizer, job.plan, job.fmt, svc.executor, lead)


async def _collect(svc: Services, job: _Job, request: Request) -> list[Piece]:
    pieces = []
    try:
        async with aclosing(_pieces(svc, job)) as stream:
            async for piece in stream:
                pieces.append(piece)
                if await request.is_disconnected():
                    break  # nobody is waiting for the rest
    finally:
        job.slot.release()
    return pieces


class _AudioStream(StreamingResponse):
    """A streamed response that gives its concurrency slot back however it ends, even unstarted."""

    def __init__(self, content: AsyncIterator[bytes], media_type: str, headers: dict[str, str], slot: Slot):
        super().__init__(content, media_type=media_type, headers=headers)
        self._slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._slot.release()


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
    svc: Services, voice_id: str, body: TextToSpeechBody, options: _Options, request: Request
) -> tuple[_Job, list[Piece], bytes]:
    """Synthesizes a whole response: the job, its pieces, and all their audio."""
    job = await _start(svc, voice_id, body, options, streaming=False)
    pieces = await _collect(svc, job, request)
    return job, pieces, _wav_with_sizes(job.fmt, b"".join(piece.audio for piece in pieces))


async def _streamed(
    svc: Services,
    voice_id: str,
    body: TextToSpeechBody,
    options: _Options,
    encode: Callable[[Piece], bytes | None],
    media_type: str | None = None,
) -> StreamingResponse:
    """Streams `encode(piece)` for each piece (skipping None); the media type is the audio's unless given."""
    job = await _start(svc, voice_id, body, options, streaming=True)

    async def content() -> AsyncIterator[bytes]:
        async with aclosing(_pieces(svc, job, FIRST_BYTES_LEAD)) as pieces:
            async for piece in pieces:
                if data := encode(piece):
                    yield data

    return _AudioStream(content(), media_type or job.fmt.media_type, job.headers, job.slot)


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
    options: Options,
) -> Response:
    job, _, audio = await _whole(svc, voice_id, body, options, request)
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
    svc: ServicesDep,
    options: StreamingOptions,
) -> StreamingResponse:
    return await _streamed(svc, voice_id, body, options, lambda piece: piece.audio)


@router.post("/v1/text-to-speech/{voice_id}/with-timestamps", summary="Create speech with timing")
async def convert_with_timestamps(
    voice_id: str,
    body: TextToSpeechBody,
    request: Request,
    svc: ServicesDep,
    options: Options,
) -> AudioWithTimestamps:
    job, pieces, audio = await _whole(svc, voice_id, body, options, request)
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
    svc: ServicesDep,
    options: StreamingOptions,
) -> StreamingResponse:
    return await _streamed(svc, voice_id, body, options, _line, "application/x-ndjson")

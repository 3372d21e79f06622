"""The four text-to-speech endpoints: audio, streamed audio, and both again with character timings.

Everything that can be wrong with a request is found before the first byte is sent (format, voice,
model, language, limits), so errors always arrive as a proper JSON error, never as a cut stream.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import Field

from intone.accounts.caller import Caller
from intone.accounts.scopes import Scope
from intone.api.auth import require
from intone.api.errors import ApiError, documented
from intone.api.generation import (
    AUDIO_RESPONSES,
    NDJSON,
    STREAMING_AUDIO_RESPONSES,
    Generation,
    GenerationOptions,
    ServicesDep,
    StreamingGenerationOptions,
    admit,
    audio_response,
    ndjson,
    ndjson_responses,
    streamed,
    timed,
    timed_response,
)
from intone.api.lexicons import lexicon_for
from intone.api.schemas import AsciiDigits, AudioWithTimestamps, TextToSpeechBody
from intone.api.state import Services, voice_and_settings
from intone.audio.formats import parse_output_format
from intone.rendering import Piece
from intone.speech.synthesizer import SpeechRequest
from intone.store.history import UnknownRequestIds

router = APIRouter(tags=["text-to-speech"], responses=documented(400, 401, 403, 404, 429))


class _Options(GenerationOptions):
    """The query parameters every text-to-speech endpoint takes."""

    optimize_streaming_latency: Annotated[int | None, AsciiDigits] = Field(
        default=None,
        ge=0,
        le=4,
        description="0-4: a shorter first chunk as it rises; 4 also turns normalization off.",
    )


class _StreamingOptions(_Options, StreamingGenerationOptions):
    pass


Options = Annotated[_Options, Query()]
StreamingOptions = Annotated[_StreamingOptions, Query()]
Speaker = Annotated[Caller, Depends(require(Scope.TEXT_TO_SPEECH))]


async def _start(
    svc: Services,
    caller: Caller,
    voice_id: str,
    body: TextToSpeechBody,
    options: _Options,
    request: Request,
    streaming: bool,
) -> Generation:
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
    logged = options.logged(request, caller, voice, settings)
    return await admit(svc, caller, plan, fmt, request, streaming, logged)


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


def _line(piece: Piece) -> bytes | None:
    """One NDJSON line; None for a piece with neither audio nor timings."""
    if not piece.audio and not piece.alignment.characters:
        return None
    return ndjson(timed(piece.audio, [piece]))


@router.post(
    "/v1/text-to-speech/{voice_id}",
    response_class=Response,
    responses=AUDIO_RESPONSES,
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
    job = await _start(svc, caller, voice_id, body, options, request, streaming=False)
    return await audio_response(svc, job, request)


@router.post(
    "/v1/text-to-speech/{voice_id}/stream",
    response_class=StreamingResponse,
    responses=STREAMING_AUDIO_RESPONSES,
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
    job = await _start(svc, caller, voice_id, body, options, request, streaming=True)
    return streamed(svc, caller, job, lambda piece: piece.audio)


@router.post("/v1/text-to-speech/{voice_id}/with-timestamps", summary="Create speech with timing")
async def convert_with_timestamps(
    voice_id: str,
    body: TextToSpeechBody,
    request: Request,
    svc: ServicesDep,
    caller: Speaker,
    options: Options,
) -> AudioWithTimestamps:
    job = await _start(svc, caller, voice_id, body, options, request, streaming=False)
    return await timed_response(svc, job, request, timed)


@router.post(
    "/v1/text-to-speech/{voice_id}/stream/with-timestamps",
    response_class=StreamingResponse,
    responses=ndjson_responses("audio_base64, alignment, normalized_alignment"),
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
    job = await _start(svc, caller, voice_id, body, options, request, streaming=True)
    return streamed(svc, caller, job, _line, NDJSON)

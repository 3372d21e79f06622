"""`POST /v1/audio/speech`, in the shape of OpenAI's `audio.speech.create`, on Intone's speech pipeline.

The request becomes the same speech request the ElevenLabs endpoints make (voice, model, voice speed),
and runs through the same pipeline: planned whole before the first byte, charged and admitted as text to
speech, logged in the key's history. The answer is always streamed, as OpenAI's is: audio in
`response_format`, or with `stream_format: "sse"` events carrying it in base64.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, field_validator

from intone.accounts.caller import Caller
from intone.accounts.scopes import Scope
from intone.api.generation import Generation, Logged, admit, streamed
from intone.api.openai import names
from intone.api.openai.auth import bearer
from intone.api.openai.errors import OpenAIError, OpenAIRoute, documented
from intone.api.schemas import VoiceSettings
from intone.api.state import Services, services, voice_and_settings
from intone.audio.formats import known_format
from intone.rendering import Piece
from intone.speech.errors import ModelNotFound, VoiceNotFound
from intone.speech.synthesizer import SPEED_RANGE, SpeechRequest
from intone.speech.voices import Voice

router = APIRouter(tags=["openai"], route_class=OpenAIRoute, responses=documented(400, 401, 403, 404, 429))

MAX_INPUT = 4096  # characters, as OpenAI's limit
ResponseFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]
# OpenAI's formats as Intone makes them: pcm (and wav) at 24 kHz as OpenAI documents, the others at the
# rates and bitrates the ElevenLabs formats use.
FORMATS: dict[str, str] = {
    "mp3": "mp3_44100_128",
    "opus": "opus_48000_64",
    "aac": "aac_24000_64",
    "flac": "flac_24000",
    "wav": "wav_24000",
    "pcm": "pcm_24000",
}
SSE_MEDIA_TYPE = "text/event-stream"


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class VoiceId(_Lenient):
    id: str = Field(description="An Intone voice id or name.")


class SpeechBody(_Lenient):
    model: str = Field(
        description="tts-1 (fast tier), tts-1-hd or gpt-4o-mini-tts (quality), or an Intone model id."
    )
    input: str = Field(min_length=1, max_length=MAX_INPUT, description="The text to speak.")
    voice: str | VoiceId = Field(
        description="An OpenAI voice (alloy, ash, ...), or an Intone voice id or name."
    )
    instructions: str | None = Field(
        default=None, description="Accepted; no engine can follow it, so not applied."
    )
    response_format: ResponseFormat = "mp3"
    speed: StrictFloat | None = Field(
        default=None,
        ge=0.25,
        le=4.0,
        description="OpenAI's range is 0.25-4; Intone's voices speak from {} to {}.".format(*SPEED_RANGE),
    )
    stream_format: Literal["audio", "sse"] = "audio"

    @field_validator("input")
    @classmethod
    def _speakable(cls, value: str) -> str:
        # As the text of the ElevenLabs routes: half a surrogate pair is no character, and NUL is dropped.
        if any("\ud800" <= char <= "\udfff" for char in value):
            raise ValueError("holds an unpaired UTF-16 surrogate, which is not a character")
        return value.replace("\0", "")


ServicesDep = Annotated[Services, Depends(services)]
Speaker = Annotated[Caller, Depends(bearer(Scope.TEXT_TO_SPEECH))]

_CONTENT = {
    **{
        known_format(name).media_type: {"schema": {"type": "string", "format": "binary"}}
        for name in FORMATS.values()
    },
    SSE_MEDIA_TYPE: {"schema": {"type": "string"}},
}


def _voice(requested: str | VoiceId) -> Voice:
    name = requested.id if isinstance(requested, VoiceId) else requested
    try:
        return names.voice(name)
    except VoiceNotFound:
        raise OpenAIError(
            400,
            "voice_not_found",
            f"There is no voice {name!r}: use one of OpenAI's ({', '.join(names.VOICES)}) or an Intone voice "
            "id or name (GET /v1/voices).",
            "voice",
        ) from None


def _model(requested: str) -> str:
    try:
        return names.speech_model(requested)
    except ModelNotFound:
        raise OpenAIError(
            404,
            "model_not_found",
            f"The model {requested!r} does not exist here: use {', '.join(names.SPEECH_MODELS)} or an Intone "
            "model id (GET /v1/models).",
            "model",
        ) from None


def _settings(speed: float | None) -> VoiceSettings | None:
    if speed is None:
        return None  # the voice's stored speed, or 1
    low, high = SPEED_RANGE
    if not low <= speed <= high:
        raise OpenAIError(
            400,
            "invalid_voice_settings",
            f"speed {speed} is within OpenAI's range but not Intone's: its voices speak from {low} to {high} "
            "times their pace.",
            "speed",
        )
    return VoiceSettings(speed=speed)


def _sse(event: dict[str, object]) -> bytes:
    return f"data: {json.dumps(event)}\n\n".encode()


def _delta(piece: Piece) -> bytes | None:
    return (
        _sse({"type": "speech.audio.delta", "audio": base64.b64encode(piece.audio).decode()})
        if piece.audio
        else None
    )


def _done(credits: int) -> bytes:
    # Intone counts characters, not tokens: the usage is the credits the request cost.
    return _sse(
        {
            "type": "speech.audio.done",
            "usage": {"input_tokens": credits, "output_tokens": 0, "total_tokens": credits},
        }
    )


async def _then_done(events: AsyncIterator[bytes], job: Generation) -> AsyncIterator[bytes]:
    """The stream's events, then `speech.audio.done` once all the audio is out."""
    async with aclosing(events):  # a client that leaves stops the synthesis under it at once
        async for event in events:
            yield event
    yield _done(job.grant.credits)


@router.post(
    "/v1/audio/speech",
    response_class=StreamingResponse,
    responses={200: {"content": _CONTENT, "description": "Audio, sent as it is made (or SSE events)"}},
    summary="Create speech (OpenAI-compatible)",
)
async def create_speech(
    body: SpeechBody, request: Request, svc: ServicesDep, caller: Speaker
) -> StreamingResponse:
    fmt = known_format(FORMATS[body.response_format])
    model_id = _model(body.model)
    voice, settings = await run_in_threadpool(
        voice_and_settings, svc, caller, _voice(body.voice).voice_id, _settings(body.speed)
    )
    speech = SpeechRequest.from_api(body.input, voice.voice_id, settings, model_id=model_id, streaming=True)
    plan = await run_in_threadpool(svc.synthesizer.plan, speech)
    svc.calibrate_soon(plan)
    logged = Logged(request.state.request_id, caller.subject, voice, settings, fmt.name)
    job = await admit(svc, caller, plan, fmt, request, streaming=True, logged=logged)
    if body.stream_format == "audio":
        return streamed(svc, caller, job, lambda piece: piece.audio)
    response = streamed(svc, caller, job, _delta, SSE_MEDIA_TYPE)
    response.body_iterator = _then_done(response.body_iterator, job)
    return response

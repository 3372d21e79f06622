"""The four text-to-dialogue endpoints: a list of (text, voice) inputs spoken as one recording, whole or
streamed, and both again with character timings and the voice segments of each input.

A dialogue goes the way of text to speech (`intone.api.generation`): the same scope, credits (all the
inputs' characters, charged once), places, history and errors; only its planning is its own
(`intone.speech.dialogue`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, field_validator

from intone.accounts.caller import Caller
from intone.accounts.scopes import Scope
from intone.api.auth import require
from intone.api.errors import documented
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
from intone.api.schemas import (
    MAX_LOCATORS,
    SEED_MAX,
    AudioWithTimestamps,
    PronunciationDictionaryLocator,
    VoiceSettings,
    whole_characters,
    without_nul,
)
from intone.api.state import Services, voice_and_settings
from intone.audio.formats import parse_output_format
from intone.rendering import DialoguePiece, Piece
from intone.speech import dialogue
from intone.speech.dialogue import VoiceSegment
from intone.speech.settings import VoiceSettingValues
from intone.speech.synthesizer import SpeechRequest
from intone.speech.voices import Voice, get_voice

router = APIRouter(tags=["text-to-dialogue"], responses=documented(400, 401, 403, 404, 429))
Options = Annotated[GenerationOptions, Query()]
StreamingOptions = Annotated[StreamingGenerationOptions, Query()]
Speaker = Annotated[Caller, Depends(require(Scope.TEXT_TO_SPEECH))]
DEFAULT_MODEL = "eleven_v3"


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class DialogueInput(_Lenient):
    text: str = Field(description="What this input's voice says.")
    voice_id: str = Field(description="The voice that says it: an id or a name.")

    @field_validator("text")
    @classmethod
    def _spoken(cls, value: str) -> str:
        return without_nul(whole_characters(value) or "")


class DialogueSettings(_Lenient):
    stability: StrictFloat | None = Field(
        default=None, ge=0, le=1, description="0 to 1, for every voice. Piper: sampling noise."
    )
    similarity: StrictFloat | None = Field(default=None, ge=0, le=1, description="Accepted, no effect.")
    clone_strength: StrictFloat | None = Field(default=None, ge=0, le=1, description="Accepted, no effect.")


class TextToDialogueBody(_Lenient):
    inputs: list[DialogueInput] = Field(
        description=f"The turns, in order; at most {dialogue.MAX_VOICES} different voices, and no more "
        "characters in all than the model takes in one request."
    )
    model_id: str | None = Field(default=DEFAULT_MODEL, description="See GET /v1/models.")
    language_code: str | None = Field(
        default=None,
        description="ISO 639-1 code every input is spoken in; none: each input's language is detected.",
    )
    settings: DialogueSettings | None = None
    pronunciation_dictionary_locators: list[PronunciationDictionaryLocator] | None = Field(
        default=None, max_length=MAX_LOCATORS, description="As for text to speech; apply to every input."
    )
    seed: StrictInt | None = Field(
        default=None, ge=0, le=SEED_MAX, description="Same seed and parameters give identical audio."
    )
    apply_text_normalization: Literal["auto", "on", "off"] | None = "auto"
    previous_text: str | None = Field(default=None, description="Text before the dialogue; read, not spoken.")
    future_text: str | None = Field(default=None, description="Text after the dialogue; read, not spoken.")
    use_pvc_as_ivc: StrictBool | None = False

    @field_validator("previous_text", "future_text")
    @classmethod
    def _whole_characters(cls, value: str | None) -> str | None:
        return whole_characters(value)


class VoiceSegmentModel(BaseModel):
    voice_id: str
    start_time_seconds: float
    end_time_seconds: float
    character_start_index: int
    character_end_index: int  # exclusive
    dialogue_input_index: int

    @staticmethod
    def of(segment: VoiceSegment) -> VoiceSegmentModel:
        return VoiceSegmentModel(
            voice_id=segment.voice_id,
            start_time_seconds=round(segment.start, 3),
            end_time_seconds=round(segment.end, 3),
            character_start_index=segment.first,
            character_end_index=segment.stop,
            dialogue_input_index=segment.index,
        )


class AudioWithTimestampsAndVoiceSegments(AudioWithTimestamps):
    voice_segments: list[VoiceSegmentModel]


async def _start(
    svc: Services,
    caller: Caller,
    body: TextToDialogueBody,
    options: GenerationOptions,
    request: Request,
    streaming: bool,
) -> Generation:
    fmt = parse_output_format(options.output_format, streaming=streaming)
    lexicon = await lexicon_for(svc, caller, body.pronunciation_dictionary_locators)
    requested = VoiceSettings(stability=body.settings.stability if body.settings else None)
    speakers = await run_in_threadpool(_speakers, svc, caller, body.inputs, requested)
    speeches = [
        SpeechRequest.from_api(
            item.text,
            voice.voice_id,
            settings,
            model_id=body.model_id or DEFAULT_MODEL,
            language_code=body.language_code,
            seed=body.seed,
            normalization=body.apply_text_normalization or "auto",
            streaming=streaming,
            lexicon=lexicon,
        )
        for item, (voice, settings) in zip(body.inputs, speakers, strict=True)
    ]
    plan = await run_in_threadpool(
        dialogue.plan, svc.synthesizer, speeches, body.previous_text or "", body.future_text or ""
    )
    for turn in plan.turns:
        svc.calibrate_soon(turn)
    # The history keeps one item, under the first input's voice (see docs/api.md).
    voice, settings = speakers[0]
    logged = options.logged(request, caller, voice, settings)
    return await admit(svc, caller, plan, fmt, request, streaming, logged)


def _speakers(
    svc: Services, caller: Caller, inputs: Sequence[DialogueInput], requested: VoiceSettings
) -> list[tuple[Voice, VoiceSettingValues]]:
    """Each input's voice and settings. Blocking: reads each voice's stored settings once."""
    voices: dict[str, Voice] = {}
    for index, item in enumerate(inputs):
        if item.voice_id not in voices:
            with dialogue.naming_input(index):
                voices[item.voice_id] = get_voice(item.voice_id)
    dialogue.check_inputs([voice.voice_id for voice in voices.values()])
    chosen = {
        voice.voice_id: voice_and_settings(svc, caller, voice.voice_id, requested)
        for voice in voices.values()
    }
    return [chosen[voices[item.voice_id].voice_id] for item in inputs]


def _timed(audio: bytes, pieces: Sequence[Piece]) -> AudioWithTimestampsAndVoiceSegments:
    segments = [segment for piece in pieces if isinstance(piece, DialoguePiece) for segment in piece.segments]
    return AudioWithTimestampsAndVoiceSegments(
        **dict(timed(audio, list(pieces))),
        voice_segments=[VoiceSegmentModel.of(segment) for segment in segments],
    )


def _line(piece: Piece) -> bytes | None:
    """One NDJSON line; None for a piece with neither audio, timings nor a segment."""
    ends = isinstance(piece, DialoguePiece) and piece.segments
    if not piece.audio and not piece.alignment.characters and not ends:
        return None
    return ndjson(_timed(piece.audio, [piece]))


@router.post(
    "/v1/text-to-dialogue",
    response_class=Response,
    responses=AUDIO_RESPONSES,
    summary="Create dialogue",
)
async def convert(
    body: TextToDialogueBody, request: Request, svc: ServicesDep, caller: Speaker, options: Options
) -> Response:
    job = await _start(svc, caller, body, options, request, streaming=False)
    return await audio_response(svc, job, request)


@router.post(
    "/v1/text-to-dialogue/stream",
    response_class=StreamingResponse,
    responses=STREAMING_AUDIO_RESPONSES,
    summary="Stream dialogue",
)
async def stream(
    body: TextToDialogueBody,
    request: Request,
    svc: ServicesDep,
    caller: Speaker,
    options: StreamingOptions,
) -> StreamingResponse:
    job = await _start(svc, caller, body, options, request, streaming=True)
    return streamed(svc, caller, job, lambda piece: piece.audio)


@router.post("/v1/text-to-dialogue/with-timestamps", summary="Create dialogue with timing")
async def convert_with_timestamps(
    body: TextToDialogueBody, request: Request, svc: ServicesDep, caller: Speaker, options: Options
) -> AudioWithTimestampsAndVoiceSegments:
    job = await _start(svc, caller, body, options, request, streaming=False)
    return await timed_response(svc, job, request, _timed)


@router.post(
    "/v1/text-to-dialogue/stream/with-timestamps",
    response_class=StreamingResponse,
    responses=ndjson_responses(
        "audio_base64, alignment, normalized_alignment, voice_segments (those of the inputs that end in it)"
    ),
    summary="Stream dialogue with timing",
)
async def stream_with_timestamps(
    body: TextToDialogueBody,
    request: Request,
    svc: ServicesDep,
    caller: Speaker,
    options: StreamingOptions,
) -> StreamingResponse:
    job = await _start(svc, caller, body, options, request, streaming=True)
    return streamed(svc, caller, job, _line, NDJSON)

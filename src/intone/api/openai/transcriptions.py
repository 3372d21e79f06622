"""`POST /v1/audio/transcriptions`, in the shape of OpenAI's `audio.transcriptions.create`, on Intone's
speech-to-text service.

The recording runs as the ElevenLabs `/v1/speech-to-text` endpoint runs it (multilingual Whisper base, the
key's speech_to_text scope and concurrency, its duration added to the key's usage); only the form and the
answer's shapes are OpenAI's: `json`, `text`, `srt`, `verbose_json` (segments, and words when
`timestamp_granularities[]` asks for them) or `vtt`.
"""

from __future__ import annotations

import re
import zlib
from typing import Annotated, Any, Literal

import pycountry
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.datastructures import FormData, UploadFile

from intone.accounts.caller import Caller
from intone.accounts.scopes import Scope
from intone.api.forms import form_fields, multipart_body, read_form
from intone.api.openai.auth import bearer
from intone.api.openai.errors import OpenAIError, OpenAIRoute, documented
from intone.api.speech_to_text import transcribed
from intone.api.state import Services, services
from intone.speech.errors import UnsupportedLanguage
from intone.transcription import exports
from intone.transcription.transcriber import TranscriptionOptions
from intone.transcription.transcript import Segment, Transcript

router = APIRouter(
    tags=["openai"], route_class=OpenAIRoute, responses=documented(400, 401, 403, 404, 413, 429)
)
ServicesDep = Annotated[Services, Depends(services)]
Listener = Annotated[Caller, Depends(bearer(Scope.SPEECH_TO_TEXT))]

# OpenAI's transcription models, and Intone's own ids, all run the one speech-to-text model.
MODELS = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "scribe_v1", "scribe_v2")
INTONE_MODEL = "scribe_v1"
_MAX_FIELDS = 64
# An SRT cue's timing line; WebVTT writes the same times with a dot before the milliseconds.
_SRT_TIMING = re.compile(r"^(\d\d:\d\d:\d\d),(\d\d\d) --> (\d\d:\d\d:\d\d),(\d\d\d)$", re.MULTILINE)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TranscriptionForm(_Lenient):
    """The form's fields (the file aside); list fields arrive as `name[]`, as the SDKs send them."""

    model: str = Field(description=f"One of {', '.join(MODELS)}: all run multilingual Whisper base.")
    language: str | None = Field(default=None, description="ISO 639-1 (or 639-3) code; none: detected.")
    prompt: str | None = Field(default=None, description="Accepted, not applied.")
    response_format: Literal["json", "text", "srt", "verbose_json", "vtt"] = "json"
    temperature: float | None = Field(default=None, ge=0, le=1)
    timestamp_granularities: list[Literal["word", "segment"]] = Field(
        default_factory=list, description="With verbose_json: segment (the default), word, or both."
    )
    stream: StrictBool = Field(default=False, description="Not supported: the transcript comes whole.")
    include: list[str] = Field(default_factory=list, description="Accepted, not applied (no logprobs).")
    chunking_strategy: str | None = Field(default=None, description="Accepted, not applied.")


class Usage(BaseModel):
    type: Literal["duration"] = "duration"
    seconds: float


class TranscriptionJson(BaseModel):
    text: str
    usage: Usage


class VerboseSegment(BaseModel):
    id: int
    seek: int
    start: float
    end: float
    text: str
    tokens: list[int]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float


class VerboseWord(BaseModel):
    word: str
    start: float
    end: float


class TranscriptionVerbose(BaseModel):
    task: Literal["transcribe"] = "transcribe"
    language: str
    duration: float
    text: str
    segments: list[VerboseSegment] | None = None
    words: list[VerboseWord] | None = None
    usage: Usage


_FORM_SCHEMA = multipart_body(TranscriptionForm, ["model", "file"])
_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The transcript, in response_format",
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/TranscriptionJson"},
                        {"$ref": "#/components/schemas/TranscriptionVerbose"},
                    ]
                }
            },
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}


@router.post(
    "/v1/audio/transcriptions",
    openapi_extra=_FORM_SCHEMA,
    response_class=Response,
    responses=_ANSWERS,
    summary="Transcribe audio (OpenAI-compatible)",
)
async def create_transcription(request: Request, caller: Listener, svc: ServicesDep) -> Response:
    form = await read_form(request, _MAX_FIELDS)
    try:
        fields = _fields(form)
        _refuse_unsupported(fields)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise OpenAIError(
                400, "invalid_parameters", "Send the recording as the multipart file field.", "file"
            )
        options = TranscriptionOptions(
            model_id=INTONE_MODEL, language_code=fields.language, temperature=fields.temperature
        )
        try:
            transcript = await transcribed(svc, caller, upload, options)
        except UnsupportedLanguage as error:
            raise OpenAIError(400, error.status, error.message, "language") from None
    finally:
        await form.close()
    return _answer(transcript, fields)


def _fields(form: FormData) -> TranscriptionForm:
    given: dict[str, Any] = {}
    for name, value in form.multi_items():
        if not isinstance(value, str) or name == "file":
            continue
        if name.endswith("[]"):
            given.setdefault(name[:-2], []).append(value)
        elif value != "":
            given[name] = {"true": True, "false": False}.get(value, value) if name == "stream" else value
    return form_fields(TranscriptionForm, given)


def _refuse_unsupported(fields: TranscriptionForm) -> None:
    if fields.model not in MODELS:
        raise OpenAIError(
            404,
            "model_not_found",
            f"The model {fields.model!r} does not transcribe here: use one of {', '.join(MODELS)}.",
            "model",
        )
    if fields.stream:
        raise OpenAIError(
            400, "streaming_not_supported", "Transcripts are not streamed here: leave stream unset.", "stream"
        )
    if fields.timestamp_granularities and fields.response_format != "verbose_json":
        raise OpenAIError(
            400,
            "invalid_parameters",
            "timestamp_granularities[] needs response_format verbose_json.",
            "timestamp_granularities[]",
        )


def _answer(transcript: Transcript, fields: TranscriptionForm) -> Response:
    usage = Usage(seconds=round(transcript.duration, 3))
    match fields.response_format:
        case "json":
            return JSONResponse(TranscriptionJson(text=transcript.text, usage=usage).model_dump())
        case "text":
            return PlainTextResponse(transcript.text + "\n")
        case "srt":
            return PlainTextResponse(_srt(transcript))
        case "vtt":
            return PlainTextResponse("WEBVTT\n\n" + _SRT_TIMING.sub(r"\1.\2 --> \3.\4", _srt(transcript)))
    granularities = fields.timestamp_granularities or ["segment"]
    verbose = TranscriptionVerbose(
        language=_language_name(transcript.language),
        duration=usage.seconds,
        text=transcript.text,
        segments=_segments(transcript, fields) if "segment" in granularities else None,
        words=_words(transcript) if "word" in granularities else None,
        usage=usage,
    )
    return JSONResponse(verbose.model_dump(exclude_none=True))


def _srt(transcript: Transcript) -> str:
    return exports.export(transcript, exports.ExportOptions("srt")).content


def _language_name(code: str) -> str:
    """The language's English name in lower case, as OpenAI reports it ("english"); else its code."""
    language = pycountry.languages.get(**{"alpha_2" if len(code) == 2 else "alpha_3": code})
    return language.name.lower() if language is not None else code


def _segments(transcript: Transcript, fields: TranscriptionForm) -> list[VerboseSegment]:
    """Whisper's segments. What the transcript does not keep of Whisper's decoding is given as neutral
    values (docs/openai.md): no token ids, no-speech probability 0, the requested temperature; the mean
    log probability is its words', the compression ratio its text's, as Whisper computes it."""
    return [
        VerboseSegment(
            id=number,
            seek=round(segment.start * 100),  # in Whisper's 10 ms frames
            start=segment.start,
            end=segment.end,
            text=segment.text,
            tokens=[],
            temperature=fields.temperature or 0.0,
            avg_logprob=_mean_logprob(segment),
            compression_ratio=_compression_ratio(segment.text),
            no_speech_prob=0.0,
        )
        for number, segment in enumerate(transcript.segments)
    ]


def _mean_logprob(segment: Segment) -> float:
    logprobs = [word.logprob for word in segment.words if word.kind != "spacing"]
    return round(sum(logprobs) / len(logprobs), 4) if logprobs else 0.0


def _compression_ratio(text: str) -> float:
    data = text.encode()
    return round(len(data) / len(zlib.compress(data)), 4) if data else 0.0


def _words(transcript: Transcript) -> list[VerboseWord]:
    return [
        VerboseWord(word=word.text, start=word.start, end=word.end)
        for word in transcript.words
        if word.kind == "word"
    ]

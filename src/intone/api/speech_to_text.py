"""POST /v1/speech-to-text: a recording in (multipart `file`), its transcript out, in the SDK's shape.

The upload is spooled to a temporary file by the form parser (its size bounded by
INTONE_MAX_TRANSCRIPTION_BYTES in `body_limit.py`), decoded and transcribed as engine work on the
scheduler, after the key's place among its concurrent transcriptions is granted. The audio's duration
is added to the key's usage once the transcript is delivered. Nothing is fetched: `source_url`,
`cloud_storage_url` and webhooks are refused.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from starlette.datastructures import FormData, UploadFile

from intone.accounts.caller import Caller
from intone.accounts.scopes import Scope
from intone.admission.admission import Overloaded
from intone.api.auth import require
from intone.api.errors import ApiError, documented, too_busy
from intone.api.forms import body_error, form_fields, multipart_body, read_form
from intone.api.state import Services, services
from intone.speech.models import ConcurrencyGroup
from intone.transcription import exports
from intone.transcription.languages import iso639_3
from intone.transcription.transcriber import TranscriptionOptions
from intone.transcription.transcript import Transcript, Word

router = APIRouter(tags=["speech-to-text"], responses=documented(400, 401, 403, 413, 429))
ServicesDep = Annotated[Services, Depends(services)]
Transcriber = Annotated[Caller, Depends(require(Scope.SPEECH_TO_TEXT))]
ENGINE = "whisper"
_MAX_FIELDS = 64


class _Export(BaseModel):
    format: Literal["srt", "txt", "segmented_json", "html", "docx", "pdf"]
    include_speakers: bool | None = None
    include_timestamps: bool | None = None
    max_characters_per_line: int | None = Field(default=None, ge=1)
    segment_on_silence_longer_than_s: float | None = Field(default=None, gt=0)
    max_segment_duration_s: float | None = Field(default=None, gt=0)
    max_segment_chars: int | None = Field(default=None, ge=1)


_EXPORTS = TypeAdapter(list[_Export])


class SpeechToTextForm(BaseModel):
    """The form's fields (the file aside). Those Intone cannot act on are accepted as ElevenLabs accepts
    them, and docs/speech-to-text.md says which have no effect."""

    model_id: str
    language_code: str | None = None
    tag_audio_events: bool = True
    num_speakers: int | None = Field(default=None, ge=1, le=32)
    timestamps_granularity: Literal["none", "word", "character"] = "word"
    diarize: bool = False
    diarization_threshold: float | None = Field(default=None, ge=0, le=1)
    additional_formats: str | None = None  # a JSON list of export options
    file_format: Literal["pcm_s16le_16", "other"] = "other"
    cloud_storage_url: str | None = None
    source_url: str | None = None
    webhook: bool = False
    webhook_id: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    seed: int | None = Field(default=None, ge=0, le=2_147_483_647)
    use_multi_channel: bool = False


class Character(BaseModel):
    text: str
    start: float | None
    end: float | None


class TranscriptWord(BaseModel):
    text: str
    start: float | None
    end: float | None
    type: Literal["word", "spacing", "audio_event"]
    speaker_id: str | None
    logprob: float
    characters: list[Character] | None = None


class AdditionalFormat(BaseModel):
    requested_format: str
    file_extension: str
    content_type: str
    is_base64_encoded: bool
    content: str


class SpeechToTextResponse(BaseModel):
    language_code: str
    language_probability: float
    text: str
    words: list[TranscriptWord]
    additional_formats: list[AdditionalFormat] | None = None
    transcription_id: str
    audio_duration_secs: float


_FORM_SCHEMA = multipart_body(SpeechToTextForm, ["model_id", "file"])


@router.post(
    "/v1/speech-to-text",
    openapi_extra=_FORM_SCHEMA,
    summary="Transcribe an audio or video file",
    response_model_exclude_none=True,
)
async def speech_to_text(
    request: Request,
    caller: Transcriber,
    svc: ServicesDep,
    enable_logging: Annotated[bool, Query(description="Accepted; transcripts are never kept.")] = True,
) -> SpeechToTextResponse:
    form = await read_form(request, _MAX_FIELDS)
    try:
        fields = _fields(form)
        wanted = _exports(fields.additional_formats)
        _refuse_unsupported(fields)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(
                400, "invalid_parameters", "Send the recording as the multipart file field `file`."
            )
        options = TranscriptionOptions(
            model_id=fields.model_id,
            language_code=fields.language_code,
            file_format=fields.file_format,
            tag_audio_events=fields.tag_audio_events,
            temperature=fields.temperature,
            seed=fields.seed,
        )
        transcript = await transcribed(svc, caller, upload, options)
    finally:
        await form.close()
    return _response(transcript, fields, wanted)


def _fields(form: FormData) -> SpeechToTextForm:
    # Clients send the optional fields they leave unset as empty strings (the SDK: JSON null for some).
    given = {
        name: value
        for name, value in form.multi_items()
        if name != "file" and isinstance(value, str) and value not in ("", "null")
    }
    return form_fields(SpeechToTextForm, given)


def _exports(raw: str | None) -> list[exports.ExportOptions]:
    if raw is None:
        return []
    try:
        wanted = _EXPORTS.validate_json(raw)
    except ValidationError as error:
        raise body_error(error, "additional_formats") from None
    unsupported = [item.format for item in wanted if item.format not in exports.FORMATS]
    if unsupported:
        raise ApiError(
            400,
            "unsupported_format",
            f"Intone does not export {', '.join(unsupported)}; it exports {', '.join(exports.FORMATS)}.",
        )
    return [
        exports.ExportOptions(
            item.format,
            include_timestamps=item.include_timestamps is not False,
            max_characters_per_line=item.max_characters_per_line,
            segment_on_silence_longer_than_s=item.segment_on_silence_longer_than_s,
            max_segment_duration_s=item.max_segment_duration_s,
            max_segment_chars=item.max_segment_chars,
        )
        for item in wanted
    ]


def _refuse_unsupported(fields: SpeechToTextForm) -> None:
    if fields.source_url or fields.cloud_storage_url:
        raise ApiError(
            400,
            "unsupported_source",
            "Intone never fetches from the network: upload the recording as the file field instead of "
            "source_url or cloud_storage_url.",
        )
    if fields.webhook or fields.webhook_id:
        raise ApiError(
            400,
            "webhooks_not_supported",
            "Intone does not send webhooks: leave webhook unset and read the transcript from the response.",
        )
    if fields.use_multi_channel:
        raise ApiError(
            400,
            "multi_channel_not_supported",
            "Intone transcribes the channels mixed together; leave use_multi_channel unset.",
        )


async def transcribed(
    svc: Services, caller: Caller, upload: UploadFile, options: TranscriptionOptions
) -> Transcript:
    """The transcript, run in the caller's place among its concurrent transcriptions, as engine work, and
    its seconds counted in the caller's usage (the OpenAI-compatible transcriptions route runs it too)."""
    weight = svc.scheduler.speeds.factor(ENGINE)
    try:
        admitted = await svc.admission.admit(caller, ConcurrencyGroup.SPEECH_TO_TEXT, weight)
    except Overloaded as error:
        raise too_busy(error) from None
    job = svc.job(caller.tier.priority, live=False)
    job.engine = ENGINE
    try:
        transcript = await svc.transcriber.transcribe_on(job, upload.file, options)
    finally:
        job.cancel()
        await admitted.release()
    await run_in_threadpool(svc.store.usage.add_transcribed, caller.subject, transcript.duration)
    return transcript


def _response(
    transcript: Transcript, fields: SpeechToTextForm, wanted: list[exports.ExportOptions]
) -> SpeechToTextResponse:
    formats = [_additional(exports.export(transcript, options)) for options in wanted]
    return SpeechToTextResponse(
        language_code=iso639_3(transcript.language),
        language_probability=round(transcript.language_probability, 4),
        text=transcript.text,
        words=[_word(word, fields.timestamps_granularity) for word in transcript.words],
        additional_formats=formats or None,
        transcription_id=uuid.uuid4().hex,
        audio_duration_secs=round(transcript.duration, 3),
    )


def _word(word: Word, granularity: str) -> TranscriptWord:
    timed = granularity != "none"
    characters = _characters(word) if granularity == "character" and word.kind != "spacing" else None
    return TranscriptWord(
        text=word.text,
        start=word.start if timed else None,
        end=word.end if timed else None,
        type=word.kind,
        # Whisper does not tell speakers apart: no speaker is named rather than one made up.
        speaker_id=None,
        logprob=word.logprob,
        characters=characters,
    )


def _characters(word: Word) -> list[Character]:
    """A word's characters with its time spread evenly over them: Whisper times words, not letters."""
    step = (word.end - word.start) / max(1, len(word.text))
    return [
        Character(text=char, start=round(word.start + i * step, 3), end=round(word.start + (i + 1) * step, 3))
        for i, char in enumerate(word.text)
    ]


def _additional(made: exports.Export) -> AdditionalFormat:
    return AdditionalFormat(
        requested_format=made.format,
        file_extension=made.file_extension,
        content_type=made.content_type,
        is_base64_encoded=False,
        content=made.content,
    )

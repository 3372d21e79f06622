"""WS /v1/speech-to-text/realtime: audio in as it is recorded, transcripts out, as the SDK's
`speech_to_text.realtime.connect` expects.

The query sets the session (`model_id=scribe_v2_realtime`, `audio_format`, `commit_strategy`,
`language_code`, `include_timestamps`, the VAD settings); the client sends `input_audio_chunk` messages
(base64 audio, `commit`) and may send `commit`. The server answers `session_started`, then
`partial_transcript` while audio arrives, and `committed_transcript` (with
`committed_transcript_with_timestamps` when asked) for each committed segment; an error is a message
whose `message_type` names it (`auth_error`, `input_error`, `invalid_request`, ...), then close 1008.
Transcription runs on the engine scheduler, one piece of work at a time per socket, in order; a partial
is skipped while a newer piece of work waits. Each commit adds its audio's length to the key's usage.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, WebSocket
from pydantic import BaseModel, Field, ValidationError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from intone.accounts.caller import Caller
from intone.accounts.scopes import Scope
from intone.admission.gates import Hold
from intone.api.auth import REALTIME_SCRIBE, AuthError, bearer_key, check_scope, identify, redeem
from intone.api.errors import ApiError
from intone.api.realtime import INTERNAL_ERROR, POLICY_VIOLATION
from intone.api.socket_caps import socket_caps
from intone.api.state import Services
from intone.audio.decode import UndecodableAudio
from intone.cluster.health import RedisUnavailable
from intone.engines.whisper import SAMPLE_RATE, Decoding
from intone.speech.errors import SpeechError
from intone.transcription.languages import iso639_3
from intone.transcription.live import (
    AUDIO_FORMATS,
    LONGEST_SEGMENT_S,
    LiveAudio,
    Taken,
    VadSettings,
    speech_ended,
)
from intone.transcription.models import REALTIME_MODEL

router = APIRouter(tags=["speech-to-text"])
log = logging.getLogger("intone.api")

# New audio that makes another partial transcript worth computing.
PARTIAL_EVERY_S = 1.0
VAD_EVERY_S = 0.25


class SessionQuery(BaseModel):
    model_id: str
    audio_format: str = "pcm_16000"
    commit_strategy: Literal["manual", "vad"] = "manual"
    language_code: str | None = None
    include_timestamps: bool = False
    vad_silence_threshold_secs: float = Field(default=1.5, ge=0.3, le=3.0)
    vad_threshold: float = Field(default=0.4, ge=0.1, le=0.9)
    min_speech_duration_ms: int = Field(default=100, ge=50, le=2000)
    min_silence_duration_ms: int = Field(default=100, ge=50, le=2000)
    enable_logging: bool = True
    token: str | None = None


class AudioChunk(BaseModel):
    message_type: Literal["input_audio_chunk", "commit"]
    audio_base_64: str = ""
    commit: bool = False
    sample_rate: int | None = None
    previous_text: str | None = None


class SessionError(Exception):
    """Ends the session: a message of type `kind` saying `message`, then close `code`."""

    def __init__(self, kind: str, message: str, code: int = POLICY_VIOLATION) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.code = code


@dataclass(frozen=True)
class _Work:
    taken: Taken
    commit: bool


class _Session:
    def __init__(self, websocket: WebSocket, svc: Services, caller: Caller, query: SessionQuery) -> None:
        self.websocket = websocket
        self.svc = svc
        self.caller = caller
        self.query = query
        self.audio = LiveAudio(query.audio_format)
        self.vad = VadSettings(
            query.vad_silence_threshold_secs,
            query.vad_threshold,
            query.min_speech_duration_ms,
            query.min_silence_duration_ms,
        )
        self.decoding = Decoding()
        self.work: asyncio.Queue[_Work | None] = asyncio.Queue()
        self._partial_at = 0.0  # uncommitted seconds when the last partial was queued
        self._vad_at = 0.0  # ... when voice activity was last looked for
        self._send_lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            if self.websocket.application_state != WebSocketState.CONNECTED:
                raise WebSocketDisconnect(1000)
            await self.websocket.send_text(json.dumps(message, ensure_ascii=False))

    def started(self) -> dict[str, Any]:
        query = self.query
        config = {
            "sample_rate": self.audio.rate,
            "audio_format": query.audio_format,
            "language_code": query.language_code,
            "model_id": query.model_id,
            "commit_strategy": query.commit_strategy,
            "enable_logging": query.enable_logging,
            "include_timestamps": query.include_timestamps,
        }
        return {"message_type": "session_started", "session_id": uuid.uuid4().hex, "config": config}

    async def receive(self, chunk: AudioChunk) -> None:
        if chunk.sample_rate is not None and chunk.sample_rate != self.audio.rate:
            raise SessionError(
                "input_error",
                f"The chunk's sample_rate {chunk.sample_rate} is not the session's {self.audio.rate} "
                f"({self.query.audio_format}).",
            )
        if chunk.audio_base_64:
            try:
                self.audio.add(base64.b64decode(chunk.audio_base_64, validate=True))
            except (binascii.Error, UndecodableAudio) as error:
                raise SessionError("input_error", f"audio_base_64 is not whole samples: {error}") from None
        if chunk.commit or chunk.message_type == "commit" or await self._due():
            self._queue(commit=True)
        elif self.audio.pending_seconds - self._partial_at >= PARTIAL_EVERY_S:
            self._queue(commit=False)

    async def _due(self) -> bool:
        """An automatic commit: the segment reached Whisper's longest, or (vad) speech ended; the
        voice activity detector runs in a thread, on each VAD_EVERY_S of new audio."""
        pending = self.audio.pending_seconds
        if pending >= LONGEST_SEGMENT_S:
            return True
        if self.query.commit_strategy != "vad" or pending - self._vad_at < VAD_EVERY_S:
            return False
        self._vad_at = pending
        return await asyncio.to_thread(speech_ended, self.audio.pending(), self.vad)

    def _queue(self, commit: bool) -> None:
        taken = self.audio.take() if commit else Taken(self.audio.pending(), 0.0)
        self._partial_at = 0.0 if commit else self.audio.pending_seconds
        if commit:
            self._vad_at = 0.0
        self.work.put_nowait(_Work(taken, commit))

    async def transcribe(self) -> None:
        """Runs the queued work in order until the None that ends it."""
        transcriber = self.svc.transcriber
        while (work := await self.work.get()) is not None:
            if not work.commit and not self.work.empty():
                continue  # a newer partial or a commit supersedes it
            if len(work.taken.audio) == 0:
                transcript = None
            else:
                audio, decoding = work.taken.audio, self.decoding
                transcript = await self.svc.scheduler.call(
                    lambda audio=audio, decoding=decoding: transcriber.transcribe_audio(
                        audio, decoding, True
                    ),
                    priority=self.caller.tier.priority,
                )
            text = transcript.text if transcript else ""
            if not work.commit:
                await self.send({"message_type": "partial_transcript", "text": text})
                continue
            await self.send({"message_type": "committed_transcript", "text": text})
            if self.query.include_timestamps:
                await self.send(_with_timestamps(transcript, text, work.taken.offset))
            seconds = len(work.taken.audio) / SAMPLE_RATE
            if seconds:
                await asyncio.to_thread(self.svc.store.usage.add_transcribed, self.caller.subject, seconds)


def _with_timestamps(transcript: Any, text: str, offset: float) -> dict[str, Any]:
    words = [] if transcript is None else transcript.words
    return {
        "message_type": "committed_transcript_with_timestamps",
        "text": text,
        "language_code": iso639_3(transcript.language) if transcript else None,
        "words": [
            {
                "text": word.text,
                "start": round(word.start + offset, 3),
                "end": round(word.end + offset, 3),
                "type": word.kind,
                "logprob": word.logprob,
            }
            for word in words
        ],
    }


def _query(websocket: WebSocket) -> SessionQuery:
    try:
        query = SessionQuery.model_validate(dict(websocket.query_params))
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(map(str, problem["loc"]))
        raise SessionError("invalid_request", f"{where}: {problem['msg']}") from None
    if query.model_id != REALTIME_MODEL:
        raise SessionError(
            "invalid_request", f"The realtime socket runs {REALTIME_MODEL}, not {query.model_id!r}."
        )
    if query.audio_format not in AUDIO_FORMATS:
        raise SessionError(
            "input_error",
            f"audio_format {query.audio_format!r} is not one of {', '.join(AUDIO_FORMATS)}.",
        )
    return query


async def _caller(websocket: WebSocket, svc: Services, query: SessionQuery) -> Caller:
    """A single-use `realtime_scribe` token (query `token`), else the key in the handshake's
    `xi-api-key` or Bearer `authorization` header."""
    headers = websocket.headers
    key = headers.get("xi-api-key") or bearer_key(headers.get("authorization"))
    try:
        if query.token:
            caller = await asyncio.to_thread(redeem, svc, query.token, REALTIME_SCRIBE)
        else:
            caller = await asyncio.to_thread(identify, svc, key)
        check_scope(caller, Scope.SPEECH_TO_TEXT)
    except AuthError as error:
        raise SessionError("auth_error", error.message) from None
    return caller


async def _place(websocket: WebSocket, svc: Services, caller: Caller) -> Hold:
    try:
        return await socket_caps(websocket.app.state, svc).take(caller.subject)
    except ApiError as error:
        kind = "resource_exhausted" if error.status == "system_busy" else "rate_limited"
        raise SessionError(kind, error.message) from None
    except RedisUnavailable as error:
        raise SessionError("resource_exhausted", error.message, INTERNAL_ERROR) from None


def _chunk(frame: dict[str, Any]) -> AudioChunk:
    if frame["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(frame.get("code", 1000))
    try:
        return AudioChunk.model_validate_json(frame.get("text") or frame.get("bytes") or b"")
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(map(str, problem["loc"]))
        raise SessionError("input_error", f"The message cannot be read: {where}: {problem['msg']}") from None


@router.websocket("/v1/speech-to-text/realtime")
async def realtime(websocket: WebSocket) -> None:
    svc: Services = websocket.app.state.services
    await websocket.accept()
    place: Hold | None = None
    worker: asyncio.Task[None] | None = None
    try:
        query = _query(websocket)
        caller = await _caller(websocket, svc, query)
        place = await _place(websocket, svc, caller)
        session = _Session(websocket, svc, caller, query)
        try:
            session.decoding = await asyncio.to_thread(svc.transcriber.decoding, query.language_code)
        except SpeechError as error:
            raise SessionError("invalid_request", error.message) from None
        await session.send(session.started())
        worker = asyncio.create_task(session.transcribe(), name="realtime transcription")
        while True:
            frame = await websocket.receive()
            await session.receive(_chunk(frame))
            if worker.done():
                worker.result()  # its failure ends the session
    except SessionError as error:
        await _fail(websocket, error.kind, error.message, error.code)
    except WebSocketDisconnect:
        pass
    except Exception:
        log.exception("a realtime speech-to-text socket failed")
        await _fail(websocket, "transcriber_error", "The server failed; its log says why.", INTERNAL_ERROR)
    finally:
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(BaseException):
                await worker
        if place is not None:
            await place.release()


async def _fail(websocket: WebSocket, kind: str, message: str, code: int) -> None:
    with contextlib.suppress(Exception):
        if websocket.application_state == WebSocketState.CONNECTED:
            await websocket.send_text(json.dumps({"message_type": kind, "error": message}))
            await websocket.close(code, message.encode()[:120].decode(errors="ignore"))

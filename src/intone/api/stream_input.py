"""The realtime WebSockets: `stream-input` (one text stream) and `multi-stream-input` (several
independent contexts on one socket).

The upgrade is always accepted, so that every problem, even a bad query parameter, reaches the client
as a JSON message with `message` and `error`, followed by a close with code 1008 and a reason (the
SDK turns that into an `ApiError`). A normal end is `{"isFinal": true}`, then close code 1000.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StrictBool, StrictFloat, ValidationError
from starlette.types import Message
from starlette.websockets import WebSocketState

from intone import metrics
from intone.accounts.caller import Caller
from intone.accounts.scopes import Scope
from intone.admission.gates import Hold
from intone.api.auth import AuthError, bearer_key, check_scope, identify, redeem
from intone.api.errors import ApiError
from intone.api.lexicons import lexicon_for
from intone.api.realtime import INTERNAL_ERROR, POLICY_VIOLATION, RealtimeStream
from intone.api.schemas import (
    SEED_MAX,
    AsciiDigits,
    PronunciationDictionaryLocator,
    VoiceSettings,
)
from intone.api.socket_caps import socket_caps
from intone.api.socket_text import check_waiting
from intone.api.state import Services, voice_and_settings
from intone.audio.formats import DEFAULT_FORMAT, InvalidOutputFormat, OutputFormat, parse_output_format
from intone.cluster.health import RedisUnavailable
from intone.config import MAX_MESSAGE_BYTES
from intone.speech.errors import SpeechError
from intone.speech.lexicon import Lexicon
from intone.speech.models import get_model
from intone.speech.synthesizer import SpeechRequest
from intone.speech.text.buffer import DEFAULT_SCHEDULE, InvalidSchedule, TextBuffer, check_schedule
from intone.speech.text.markup import Syntax

router = APIRouter(tags=["text-to-speech"])
log = logging.getLogger("intone.api")

MAX_CONTEXTS = 10
DEFAULT_CONTEXT = "default"
# How long a socket with no credentials in its handshake may take to send the first message, whatever
# its inactivity_timeout: an unauthenticated client gets no longer than this.
AUTH_WAIT_S = 20.0


class StreamError(Exception):
    def __init__(self, error: str, message: str, code: int = POLICY_VIOLATION) -> None:
        super().__init__(message)
        self.error = error
        self.message = message
        self.code = code  # the WebSocket close code


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class StreamQuery(_Lenient):
    model_id: str | None = None
    language_code: str | None = None
    enable_logging: bool = True
    enable_ssml_parsing: bool = False
    output_format: str = DEFAULT_FORMAT
    inactivity_timeout: Annotated[int, AsciiDigits] = Field(default=20, ge=1, le=180)
    sync_alignment: bool = False
    auto_mode: bool = False
    apply_text_normalization: Literal["auto", "on", "off"] = "auto"
    seed: Annotated[int | None, AsciiDigits] = Field(default=None, ge=0, le=SEED_MAX)
    optimize_streaming_latency: Annotated[int | None, AsciiDigits] = Field(default=None, ge=0, le=4)
    authorization: str | None = None
    single_use_token: str | None = None


class GenerationConfig(_Lenient):
    chunk_length_schedule: list[StrictFloat] | None = None


class StreamMessage(_Lenient):
    """Every client message of both sockets; which fields are set says what it is."""

    text: str | None = None
    try_trigger_generation: StrictBool | None = None
    flush: StrictBool | None = None
    voice_settings: VoiceSettings | None = None
    generation_config: GenerationConfig | None = None
    generator_config: GenerationConfig | None = None  # the SendText spelling
    pronunciation_dictionary_locators: list[PronunciationDictionaryLocator] | None = None
    xi_api_key: str | None = Field(default=None, validation_alias=AliasChoices("xi_api_key", "xi-api-key"))
    authorization: str | None = None
    context_id: str | None = Field(default=None, validation_alias=AliasChoices("context_id", "contextId"))
    close_context: StrictBool | None = None
    close_socket: StrictBool | None = None

    @property
    def config(self) -> GenerationConfig | None:
        return self.generation_config or self.generator_config


@dataclass
class _Setup:
    """What a stream's first message settles: its voice settings and schedule, fixed afterwards."""

    voice_settings: VoiceSettings | None
    schedule: tuple[int, ...]

    @staticmethod
    def of(message: StreamMessage) -> _Setup:
        config = message.config
        try:
            schedule = (
                check_schedule(config.chunk_length_schedule)
                if config and config.chunk_length_schedule is not None
                else DEFAULT_SCHEDULE
            )
        except InvalidSchedule as error:
            raise StreamError("invalid_generation_config", str(error)) from error
        return _Setup(message.voice_settings, tuple(schedule))

    def check_unchanged(self, message: StreamMessage) -> None:
        if message.voice_settings is not None and message.voice_settings != self.voice_settings:
            raise StreamError(
                "voice_settings_changed", "voice_settings can only be set in the first message of a stream."
            )
        config = message.config
        if config and config.chunk_length_schedule is not None:
            try:
                changed = tuple(check_schedule(config.chunk_length_schedule)) != self.schedule
            except InvalidSchedule:
                changed = True
            if changed:
                raise StreamError(
                    "generation_config_changed",
                    "generation_config can only be set in the first message of a stream.",
                )


class _Socket:
    """Receiving with the inactivity timeout, sending one message at a time, failing politely."""

    def __init__(self, websocket: WebSocket, svc: Services) -> None:
        self.websocket = websocket
        self.svc = svc
        self.timeout = 20.0
        self.busy: Callable[[], bool] = lambda: False  # audio still being made: the client is not idle
        self._send_lock = asyncio.Lock()
        self._next: asyncio.Task[Message] | None = None

    async def send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            await self._send(message)

    async def _send(self, message: dict[str, Any]) -> None:
        if self.websocket.application_state != WebSocketState.CONNECTED:
            raise WebSocketDisconnect(1000)  # already closed, e.g. after an error message
        await self.websocket.send_text(json.dumps(message, ensure_ascii=False))

    async def receive(self) -> StreamMessage:
        return _parse(await self._frame())

    async def _frame(self) -> Message:
        """The next frame; only time in which no audio is being made counts toward the timeout."""
        self._next = self._next or asyncio.ensure_future(self.websocket.receive())
        while True:
            done, _ = await asyncio.wait({self._next}, timeout=self.timeout)
            if done:
                received, self._next = self._next, None
                if received.cancelled():  # the socket was closed meanwhile, e.g. after an error message
                    raise WebSocketDisconnect(1000)
                return received.result()
            if not self.busy():
                raise StreamError(
                    "input_timeout_exceeded",
                    f"No text arrived for {self.timeout:g} seconds, so the stream was closed. Send text "
                    "(or a keep-alive) more often, raise inactivity_timeout (up to 180), or end with "
                    '{"text": ""}.',
                )

    async def fail(
        self, error: StreamError, tag: dict[str, str] | None = None, code: int = POLICY_VIOLATION
    ) -> None:
        # Shielded: the failing stream may be cancelled as the socket ends, and the client must still
        # get the message and the close code.
        await asyncio.shield(self._fail(error, tag, code))

    async def _fail(self, error: StreamError, tag: dict[str, str] | None, code: int) -> None:
        # Under the send lock, so no audio of another context slips in between the error and the close.
        async with self._send_lock:
            with contextlib.suppress(Exception):
                await self._send(
                    {"message": error.message, "error": error.error, "code": code, **(tag or {})}
                )
            await self._close(code, error.message)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        async with self._send_lock:
            await self._close(code, reason)

    async def _close(self, code: int, reason: str) -> None:
        if self._next is not None:
            self._next.cancel()
        if self.websocket.application_state != WebSocketState.DISCONNECTED:
            with contextlib.suppress(Exception):
                # A close reason may hold at most 123 bytes.
                await self.websocket.close(code, reason.encode()[:120].decode(errors="ignore"))


def _parse(frame: Message) -> StreamMessage:
    if frame["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(frame.get("code", 1000))
    raw = frame.get("text")
    if raw is None:
        try:
            raw = (frame.get("bytes") or b"").decode("utf-8")
        except UnicodeDecodeError:
            raise StreamError("invalid_message", "A binary message must hold UTF-8 JSON text.") from None
    if len(raw.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES:
        raise StreamError("message_too_large", "A message may be at most 1 MiB.")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        raise StreamError(
            "invalid_json", "Every message must be a JSON object; this one is not JSON."
        ) from None
    if not isinstance(data, dict):
        raise StreamError("invalid_message", "Every message must be a JSON object.")
    try:
        return StreamMessage.model_validate(data)
    except ValidationError as error:
        raise StreamError("invalid_message", _first_problem(error)) from None


def _first_problem(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"])
    return f"{where}: {problem['msg']}" if where else problem["msg"]


def _query(websocket: WebSocket) -> StreamQuery:
    try:
        return StreamQuery.model_validate(dict(websocket.query_params))
    except ValidationError as error:
        raise StreamError("invalid_request", _first_problem(error)) from None


def _template(
    svc: Services,
    caller: Caller,
    voice_id: str,
    query: StreamQuery,
    settings: VoiceSettings | None,
    lexicon: Lexicon,
) -> SpeechRequest:
    """The request every segment of a stream is made from; checked now, so errors come before audio."""
    voice, values = voice_and_settings(svc, caller, voice_id, settings)
    template = SpeechRequest.from_api(
        "",
        voice.voice_id,
        values,
        model_id=query.model_id,
        language_code=query.language_code,
        seed=query.seed,
        normalization=query.apply_text_normalization,
        latency=query.optimize_streaming_latency,
        streaming=True,
        ssml=query.enable_ssml_parsing,  # as on ElevenLabs: tags are text unless the socket asks
        lexicon=lexicon,  # applied to each segment alone, as ElevenLabs applies it within a chunk
    )
    svc.synthesizer.plan(replace(template, text="a"))  # model, language and settings fail here, not later
    return template


def _format(query: StreamQuery) -> OutputFormat:
    try:
        return parse_output_format(query.output_format, streaming=True)
    except InvalidOutputFormat as error:
        raise StreamError("invalid_output_format", str(error)) from None


def _speech_error(error: SpeechError) -> StreamError:
    return StreamError(error.status, error.message)


async def _open(
    sock: _Socket,
    caller: Caller,
    voice_id: str,
    query: StreamQuery,
    fmt: OutputFormat,
    message: StreamMessage,
    tag: dict[str, str] | None = None,
) -> tuple[RealtimeStream, _Setup]:
    setup = _Setup.of(message)
    try:
        lexicon = await lexicon_for(sock.svc, caller, message.pronunciation_dictionary_locators)
        template = await asyncio.to_thread(
            _template, sock.svc, caller, voice_id, query, setup.voice_settings, lexicon
        )
    except SpeechError as error:
        raise _speech_error(error) from None
    # The buffer keeps tags whole that the segments will read as markup.
    syntax = Syntax.of(get_model(template.model_id).model_id, ssml=template.ssml)
    buffer = TextBuffer(setup.schedule, auto_mode=query.auto_mode, syntax=syntax)

    async def failed(error: str, message: str, code: int) -> None:
        await sock.fail(StreamError(error, message), tag, code)

    stream = RealtimeStream(sock.svc, caller, template, fmt, buffer, sock.send, tag, on_error=failed)
    return stream, setup


async def _caller(sock: _Socket, query: StreamQuery, first: StreamMessage | None) -> Caller:
    """Who the socket is for: a single-use token, else a key from the handshake (the `xi-api-key` or
    `authorization` header, or the `authorization` query parameter), else a key in the first message."""
    key = _handshake_key(sock, query) or (first and (first.xi_api_key or bearer_key(first.authorization)))
    try:
        if query.single_use_token:
            caller = await asyncio.to_thread(redeem, sock.svc, query.single_use_token)
        else:
            caller = await asyncio.to_thread(identify, sock.svc, key)
        check_scope(caller, Scope.TEXT_TO_SPEECH)
    except AuthError as error:
        raise StreamError(error.status, error.message) from None
    return caller


def _handshake_key(sock: _Socket, query: StreamQuery) -> str | None:
    """The `xi-api-key` header, a Bearer `authorization` header, or the `authorization` query parameter
    (with or without "Bearer ")."""
    headers = sock.websocket.headers
    return (
        headers.get("xi-api-key")
        or bearer_key(headers.get("authorization"))
        or bearer_key(query.authorization)
        or query.authorization
        or None
    )


async def _authenticate(sock: _Socket, query: StreamQuery) -> tuple[Caller, StreamMessage | None]:
    """The caller, and the first message if it had to be read to find the key (it is still to be handled).
    Afterwards the socket waits for messages as long as its inactivity_timeout says."""
    if query.single_use_token or _handshake_key(sock, query):
        caller, first = await _caller(sock, query, None), None
    else:
        sock.timeout = min(AUTH_WAIT_S, query.inactivity_timeout)
        first = await sock.receive()
        caller = await _caller(sock, query, first)
    sock.timeout = query.inactivity_timeout
    return caller, first


def _check_text(text: str, limit: int) -> None:
    if len(text) > limit:
        raise StreamError(
            "max_character_limit_exceeded",
            f"A message may carry at most {limit} characters; this one has {len(text)}.",
        )


async def _add(
    svc: Services, streams: list[RealtimeStream], stream: RealtimeStream, message: StreamMessage
) -> None:
    """Adds the message's text to `stream`, one of the socket's `streams`."""
    text = (message.text or "").replace("\0", "")  # never spoken nor charged, as on HTTP
    _check_text(text, stream.character_limit)
    try:
        await check_waiting(svc, streams, stream, text)
    except ApiError as error:
        raise StreamError(error.status, error.message) from None
    try:
        stream.add(text, trigger=bool(message.try_trigger_generation), flush=bool(message.flush))
    except ValueError as error:
        raise StreamError("invalid_message", str(error)) from None


async def _socket_place(sock: _Socket, caller: Caller) -> Hold:
    """The socket's place among its key's and the server's open sockets; released when it ends."""
    try:
        return await socket_caps(sock.websocket.app.state, sock.svc).take(caller.subject)
    except ApiError as error:
        metrics.refused(error.status)
        raise StreamError(error.status, error.message) from None
    except RedisUnavailable as error:
        raise StreamError(error.status, error.message, INTERNAL_ERROR) from None


async def _cancel(streams: list[RealtimeStream]) -> None:
    for stream in streams:
        await stream.cancel()


async def _internal_error(sock: _Socket, streams: list[RealtimeStream]) -> None:
    log.exception("a realtime socket failed")
    await _cancel(streams)
    await sock.fail(
        StreamError("internal_error", "The server failed; its log says why."), code=INTERNAL_ERROR
    )


@router.websocket("/v1/text-to-speech/{voice_id}/stream-input")
async def stream_input(websocket: WebSocket, voice_id: str) -> None:
    sock = _Socket(websocket, websocket.app.state.services)
    await websocket.accept()
    streams: list[RealtimeStream] = []
    place: Hold | None = None
    try:
        query = _query(websocket)
        fmt = _format(query)
        caller, first = await _authenticate(sock, query)
        place = await _socket_place(sock, caller)
        first = first or await sock.receive()
        if first.text is None or first.text.strip() or first.text == "":
            raise StreamError(
                "invalid_first_message",
                'The first message must initialize the stream: {"text": " "} with optional voice_settings '
                "and generation_config.",
            )
        stream, setup = await _open(sock, caller, voice_id, query, fmt, first)
        streams.append(stream)
        sock.busy = lambda: stream.busy
        while True:
            message = await sock.receive()
            setup.check_unchanged(message)
            if message.text == "" and not message.flush:
                await stream.finish()
                await sock.close(1000)
                return
            await _add(sock.svc, streams, stream, message)
    except StreamError as error:
        await _cancel(streams)
        await sock.fail(error, code=error.code)
    except WebSocketDisconnect:
        pass
    except Exception:
        await _internal_error(sock, streams)
    finally:
        await _cancel(streams)  # however the socket ended, nothing of it runs on
        if place is not None:
            await place.release()


@router.websocket("/v1/text-to-speech/{voice_id}/multi-stream-input")
async def multi_stream_input(websocket: WebSocket, voice_id: str) -> None:
    sock = _Socket(websocket, websocket.app.state.services)
    await websocket.accept()
    contexts: dict[str, tuple[RealtimeStream, _Setup]] = {}
    sock.busy = lambda: any(stream.busy for stream, _ in contexts.values())
    place: Hold | None = None
    try:
        query = _query(websocket)
        fmt = _format(query)
        caller, pending = await _authenticate(sock, query)
        place = await _socket_place(sock, caller)
        while True:
            message, pending = pending or await sock.receive(), None
            if message.close_socket:
                for stream, _ in contexts.values():
                    await stream.finish()
                contexts.clear()
                await sock.close(1000)
                return
            context_id = message.context_id or DEFAULT_CONTEXT
            tag = {"contextId": context_id}
            if message.close_context:
                if context_id in contexts:
                    stream, _ = contexts.pop(context_id)
                    await stream.cancel()
                await sock.send({"audio": None, "isFinal": True, **tag})
                continue
            if context_id not in contexts:
                if not message.text and not message.flush:
                    continue  # a keep-alive for a context that holds nothing: nothing to keep
                if len(contexts) >= MAX_CONTEXTS:
                    raise StreamError(
                        "too_many_contexts", f"A socket may have at most {MAX_CONTEXTS} open contexts."
                    )
                contexts[context_id] = await _open(sock, caller, voice_id, query, fmt, message, tag)
            stream, setup = contexts[context_id]
            setup.check_unchanged(message)
            # An empty text keeps the context alive (and the socket active); it does not end it.
            await _add(sock.svc, [stream for stream, _ in contexts.values()], stream, message)
    except StreamError as error:
        await _cancel([stream for stream, _ in contexts.values()])
        await sock.fail(error, code=error.code)
    except WebSocketDisconnect:
        pass
    except Exception:
        await _internal_error(sock, [stream for stream, _ in contexts.values()])
    finally:
        await _cancel([stream for stream, _ in contexts.values()])
        if place is not None:
            await place.release()

"""A small raw-WebSocket client for the realtime TTS sockets in tests: JSON in and out, reads with
deadlines (so a silent server fails a test instead of hanging it), and helpers to pick apart the
audio messages."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

T = TypeVar("T")
Message = dict[str, Any]

BRIAN = "nPczCjzI2devNBz1zQrb"  # an American man: Piper speaks him on the fast models
BYTES_PER_SAMPLE = 2  # pcm_* output is raw 16-bit little-endian mono


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
    """Runs one test's conversation with an overall bound."""

    async def bounded() -> T:
        return await asyncio.wait_for(coroutine, timeout)

    return asyncio.run(bounded())


def ws_url(server_url: str, route: str, voice_id: str = BRIAN, **query: str | int | bool) -> str:
    """`route` is "stream-input" or "multi-stream-input"; booleans go as lower-case words."""
    base = server_url.replace("http://", "ws://", 1)
    params = {
        key: str(value).lower() if isinstance(value, bool) else str(value) for key, value in query.items()
    }
    suffix = f"?{urlencode(params)}" if params else ""
    return f"{base}/v1/text-to-speech/{voice_id}/{route}{suffix}"


async def send(ws: ClientConnection, *messages: Message | str) -> bool:
    """Sends each message (a dict as JSON, a str as is); False if the server closed first, whose
    error message is then still there to read."""
    try:
        for message in messages:
            await ws.send(message if isinstance(message, str) else json.dumps(message))
    except ConnectionClosed:
        return False
    return True


async def receive(ws: ClientConnection, timeout: float) -> Message | None:
    """The next JSON message, or None if none arrives within `timeout`; ConnectionClosed at the end."""
    try:
        raw = await asyncio.wait_for(ws.recv(), timeout)
    except TimeoutError:
        return None
    message = json.loads(raw)
    assert isinstance(message, dict), raw
    return message


async def receive_until(
    ws: ClientConnection, done: Callable[[list[Message]], bool], timeout: float = 15
) -> list[Message]:
    """Messages until `done(messages so far)` holds; fails if that takes longer than `timeout`."""
    messages: list[Message] = []
    deadline = time.monotonic() + timeout
    while not done(messages):
        left = deadline - time.monotonic()
        message = await receive(ws, max(left, 0))
        assert message is not None, f"condition not met after {timeout} s; got {summary(messages)}"
        messages.append(message)
    return messages


async def quiet(ws: ClientConnection, seconds: float) -> list[Message]:
    """Whatever arrives within `seconds` (the tests expect nothing, or nothing of some kind)."""
    messages: list[Message] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        message = await receive(ws, left)
        if message is None:
            break
        messages.append(message)
    return messages


async def drain(ws: ClientConnection, timeout: float = 15) -> list[Message]:
    """Every message until the server closes the socket; fails if it is still open after `timeout`."""
    messages: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            message = await receive(ws, max(deadline - time.monotonic(), 0))
            assert message is not None, f"socket still open after {timeout} s; got {summary(messages)}"
            messages.append(message)
    except ConnectionClosed:
        return messages


def tagged(messages: list[Message], context_id: str) -> list[Message]:
    return [message for message in messages if message.get("contextId") == context_id]


def audio_messages(messages: list[Message]) -> list[Message]:
    return [message for message in messages if message.get("audio")]


def finals(messages: list[Message]) -> list[Message]:
    return [message for message in messages if message.get("isFinal") is True]


def errors(messages: list[Message]) -> list[Message]:
    return [message for message in messages if "error" in message]


def chars(message: Message) -> str:
    """The text one message's alignment covers ("" for audio without timings, e.g. a flush's tail)."""
    alignment = message.get("alignment")
    return "".join(alignment["chars"]) if alignment else ""


def spoken(messages: list[Message]) -> str:
    return "".join(chars(message) for message in messages)


def same_text(a: str, b: str) -> bool:
    """Equal but for whitespace at the edges."""
    return a.strip() == b.strip()


def pcm(messages: list[Message]) -> bytes:
    return b"".join(base64.b64decode(message["audio"]) for message in audio_messages(messages))


def seconds(audio: bytes, sample_rate: int) -> float:
    return len(audio) / BYTES_PER_SAMPLE / sample_rate


def summary(messages: list[Message]) -> list[str]:
    """Messages without their audio and timings, for readable assertion failures."""
    bulky = {"audio", "alignment", "normalizedAlignment"}
    return [
        json.dumps(
            {key: value for key, value in message.items() if key not in bulky} | {"text": chars(message)}
        )
        for message in messages
    ]

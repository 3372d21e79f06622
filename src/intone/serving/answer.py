"""One answer on a raw connection, without the app: read the request head, answer, close.

For a connection over a cap (`limits.Refusal`) and for plain HTTP on a TLS-only port. The head is read only
up to `HEAD_LIMIT` bytes and for a short `grace`, so answering costs little; a TLS hello gets no answer
(that would need a handshake) and is closed at once.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from http import HTTPStatus

from intone.api.errors import error_body
from intone.serving.limits import Lease, Refusal

TLS_HANDSHAKE = 0x16  # the first byte of a TLS record carrying a handshake (a ClientHello)
HEAD_LIMIT = 16 * 1024
# Seconds a client answered with `Connection: close` has to read the answer before the socket is shut;
# closing with unread request bytes would send a reset that can destroy the answer in flight.
LINGER = 1.0


def response(refusal: Refusal) -> bytes:
    body = json.dumps(error_body(refusal.code, refusal.message)).encode()
    lines = [
        f"HTTP/1.1 {refusal.http_status} {HTTPStatus(refusal.http_status).phrase}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        f"request-id: {uuid.uuid4().hex}",
        "connection: close",
    ]
    if refusal.http_status in (429, 503):
        lines.append("retry-after: 1")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Answer(asyncio.Protocol):
    """Answers the connection's first request with `refusal`, then closes it; `lease` ends with it."""

    def __init__(self, lease: Lease, refusal: Refusal, grace: float) -> None:
        self.lease = lease
        self.refusal = refusal
        self.grace = grace
        self.transport: asyncio.Transport | None = None
        self.head = bytearray()
        self.answered = False
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.transport = transport
        self.timer = asyncio.get_running_loop().call_later(self.grace, transport.abort)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        if self.answered:
            return  # the rest of the request, read only so that closing sends no reset
        if not self.head and data[0] == TLS_HANDSHAKE:
            self.transport.abort()
            return
        self.head += data
        if b"\r\n\r\n" in self.head or len(self.head) >= HEAD_LIMIT:
            self._answer()

    def eof_received(self) -> bool:
        # The client has said all it will: close (returning False lets the transport do it).
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.lease.release()

    def _answer(self) -> None:
        assert self.transport is not None and self.timer is not None
        self.answered = True
        self.transport.write(response(self.refusal))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(LINGER, self.transport.close)

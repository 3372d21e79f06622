"""The protocol uvicorn runs for every accepted connection: admission, then plain HTTP or TLS on one port.

The Python SDK's realtime helper dials wss:// on the API's own host and port, while everything else a
user points at `http://127.0.0.1:8000` speaks plain HTTP; both must work on that one port. The first bytes
a client sends tell them apart: a TLS connection opens with a handshake record (0x16), an HTTP request
with a letter. Those bytes are then given to the protocol chosen: uvicorn's HTTP protocol, or asyncio's
TLS protocol (which works on uvloop's transports too) with the HTTP protocol inside it. (`loop.start_tls`
cannot be used: it would need the hello still unread, and uvloop starts reading every new connection
right after `connection_made`, whatever the protocol asked.)

Every connection has `header_timeout` from its opening to finish its first request head: waiting for the
first bytes, the TLS handshake and the head itself (`TimedHttpProtocol`) share that one deadline.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from asyncio.sslproto import SSLProtocol
from dataclasses import dataclass
from functools import cache
from typing import Any

from intone.serving.answer import TLS_HANDSHAKE, Answer
from intone.serving.http import TimedHttpProtocol
from intone.serving.limits import ConnectionTable, Lease, Refusal
from intone.serving.options import ListenerOptions, current
from intone.tls import server_context

log = logging.getLogger("intone.serve")

# Seconds a connection being refused has to send its request head and be answered.
REFUSAL_GRACE = 2.0
# The least time a TLS handshake is given, even when the connection's deadline is nearly spent.
MIN_HANDSHAKE = 0.5
# How many bytes the TLS protocol takes at once (it reads into its own buffer).
_FEED = 64 * 1024
# A repeated warning (refusals, TLS hellos that cannot be served) is logged at most this often.
WARN_EVERY = 60.0

PLAIN_ON_TLS_PORT = Refusal(
    400, "tls_required", "This port serves HTTPS only: use https:// (and wss:// for WebSockets)."
)


@dataclass
class _Process:
    """What the connections of one server process share."""

    options: ListenerOptions
    table: ConnectionTable
    tls: ssl.SSLContext | None
    warned: dict[str, float]

    def warn(self, topic: str, message: str, *args: object) -> None:
        """Logs a warning, unless one on `topic` was logged less than WARN_EVERY seconds ago."""
        now = time.monotonic()
        if now - self.warned.get(topic, -WARN_EVERY) >= WARN_EVERY:
            self.warned[topic] = now
            log.warning(message, *args)


@cache
def _process() -> _Process:
    options = current()
    return _Process(
        options,
        ConnectionTable(options.max_connections, options.max_connections_per_client),
        server_context(options.certfile, options.keyfile) if options.certfile and options.keyfile else None,
        {},
    )


class Listener(asyncio.Protocol):
    """Constructed by uvicorn for each connection (its `http` protocol class), with uvicorn's own arguments,
    which it passes on to the HTTP protocol it hands the connection to."""

    def __init__(self, **uvicorn_arguments: Any) -> None:
        self.uvicorn_arguments = uvicorn_arguments
        self.shared = _process()
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.lease: Lease | None = None
        self.deadline = 0.0
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.transport = transport
        host = _peer(transport)
        lease = self.shared.table.admit(host)
        if lease is None:
            self.shared.warn("full", "connections over the caps are being closed unanswered (from %s)", host)
            transport.abort()
            return
        self.lease = lease
        if lease.refusal is not None:
            self.shared.warn("refused", "refusing connections: %s (from %s)", lease.refusal.message, host)
            self._hand_over(Answer(lease, lease.refusal, REFUSAL_GRACE), transport, b"")
            return
        self.deadline = self.loop.time() + self.shared.options.header_timeout
        self.timer = self.loop.call_at(self.deadline, transport.abort)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None and self.lease is not None
        if data[0] == TLS_HANDSHAKE:
            self._tls(self.transport, data)
        elif self.shared.options.tls == "only":
            self._hand_over(Answer(self.lease, PLAIN_ON_TLS_PORT, REFUSAL_GRACE), self.transport, data)
        else:
            self._hand_over(self._http(), self.transport, data)

    def eof_received(self) -> bool:
        return False  # the client left without a word: close

    def connection_lost(self, exc: Exception | None) -> None:
        # Only while this protocol still holds the connection, before it is handed over.
        self._settled()
        if self.lease is not None:
            self.lease.release()
            self.lease = None

    def _tls(self, transport: asyncio.Transport, hello: bytes) -> None:
        if self.shared.tls is None:
            self.shared.warn(
                "tls",
                "a TLS connection (wss:// or https://, as the SDK's realtime helper makes) came from %s, "
                "but this server speaks plain HTTP only: %s",
                _peer(transport),
                self.shared.options.tls_fix,
            )
            transport.abort()
            return
        lease = self.lease
        assert lease is not None
        handshake = self.loop.create_future()
        secure = SSLProtocol(
            self.loop,
            self._http(),
            self.shared.tls,
            handshake,
            server_side=True,
            ssl_handshake_timeout=max(MIN_HANDSHAKE, self.deadline - self.loop.time()),
        )
        # A failed handshake never reaches the HTTP protocol, so its lease is released here.
        handshake.add_done_callback(lambda done: _after_handshake(done, lease))
        self._hand_over(secure, transport, b"")
        for start in range(0, len(hello), _FEED):
            piece = hello[start : start + _FEED]
            buffer = secure.get_buffer(len(piece))
            buffer[: len(piece)] = piece
            secure.buffer_updated(len(piece))

    def _http(self) -> TimedHttpProtocol:
        assert self.lease is not None
        return TimedHttpProtocol(
            **self.uvicorn_arguments,
            lease=self.lease,
            deadline=self.deadline,
            header_timeout=self.shared.options.header_timeout,
            max_head_bytes=self.shared.options.max_head_bytes,
        )

    def _hand_over(self, protocol: asyncio.BaseProtocol, transport: asyncio.Transport, data: bytes) -> None:
        """Gives the connection (and its lease) to `protocol`, with the bytes read so far."""
        self._settled()
        self.lease = None
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if data:
            assert isinstance(protocol, asyncio.Protocol)
            protocol.data_received(data)

    def _settled(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


def _after_handshake(handshake: asyncio.Future[None], lease: Lease) -> None:
    if handshake.cancelled() or handshake.exception() is not None:
        log.debug("TLS handshake failed: %r", None if handshake.cancelled() else handshake.exception())
        lease.release()


def _peer(transport: asyncio.BaseTransport) -> str | None:
    peer = transport.get_extra_info("peername")
    return peer[0] if isinstance(peer, tuple) else None

"""uvicorn's HTTP protocol with a deadline on request heads, holding its connection's lease until the end.

uvicorn closes a connection idle between requests (`timeout_keep_alive`) but puts no bound on one that
has begun a request head and never finishes it, nor on one that sends nothing at all. Here a head must be
complete within `header_timeout` of its first byte (the first request's, within that of the connection's
opening, which `Listener` gives as `deadline`), or the connection is closed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from intone.serving.limits import Lease

log = logging.getLogger("intone.serve")


class TimedHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, lease: Lease, deadline: float, header_timeout: float, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lease = lease
        self.deadline = deadline
        self.header_timeout = header_timeout
        self.head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.deadline)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.head_timer is None:  # the first request keeps the deadline set at the connection's opening
            self._arm(self.loop.time() + self.header_timeout)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.lease.release()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        super().handle_websocket_upgrade()
        # uvicorn hands the transport to a WebSocket protocol, which will see the connection end instead.
        socket = self.transport.get_protocol()
        self.transport.set_protocol(_Lifetime(socket, self.lease))

    def _arm(self, when: float) -> None:
        self._disarm()
        self.head_timer = self.loop.call_at(when, self._too_slow)

    def _disarm(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _too_slow(self) -> None:
        self.head_timer = None
        log.debug("closing a connection from %s: no complete request head in time", self.client)
        self.transport.close()


class _Lifetime(asyncio.Protocol):
    """Passes everything to a WebSocket protocol and releases the connection's lease when it ends."""

    def __init__(self, inner: asyncio.Protocol, lease: Lease) -> None:
        self.inner = inner
        self.lease = lease

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lease.release()
        self.inner.connection_lost(exc)

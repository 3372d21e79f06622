"""uvicorn's HTTP protocol with bounds on request heads, holding its connection's lease until the end.

uvicorn closes a connection idle between requests (`timeout_keep_alive`) but puts no bound on one that
has begun a request head and never finishes it, nor on one that sends nothing at all, nor on the size of
a head (it keeps every header). Here a head must be complete within `header_timeout` of its first byte
(the first request's, within that of the connection's opening, which `Listener` gives as `deadline`), or
the connection is closed; and a head of more than `max_head_bytes` is answered 431 and closed. Its size is
counted twice over: as parsed (the request target and each header, exact once they are complete) and as
read (the bytes of every read that leaves the head unfinished, which bounds one endless header that the
parser holds back until it ends).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from intone.serving.answer import response
from intone.serving.limits import Lease, Refusal

log = logging.getLogger("intone.serve")


class HeadTooLarge(Exception):
    """A request head passed `max_head_bytes`."""


class TimedHttpProtocol(HttpToolsProtocol):
    def __init__(
        self,
        *args: Any,
        lease: Lease,
        deadline: float,
        header_timeout: float,
        max_head_bytes: int,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.lease = lease
        self.deadline = deadline
        self.header_timeout = header_timeout
        self.max_head_bytes = max_head_bytes
        # Set while a head is awaited or being read: from the connection's opening, then from each
        # request's first byte, until its head is complete.
        self.head_timer: asyncio.TimerHandle | None = None
        self.head_parsed = 0
        self.head_read = 0
        self.head_too_large = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.deadline)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_parsed = 0
        if self.head_timer is None:  # the first request keeps the deadline set at the connection's opening
            self._arm(self.loop.time() + self.header_timeout)

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._parsed(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._parsed(len(name) + len(value) + 4)  # with ": " and the line's end

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.head_timer is None or self.transport.is_closing():
            return
        self.head_read += len(data)
        if self.head_read > self.max_head_bytes:
            self.head_too_large = True
            self.send_400_response("")

    def on_headers_complete(self) -> None:
        self._disarm()
        self.head_read = 0
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        # uvicorn's answer to a head the parser gave up on; here, also to one over the size limit.
        if not self.head_too_large:
            super().send_400_response(msg)
            return
        self._disarm()
        refusal = Refusal(
            431,
            "request_header_fields_too_large",
            f"The request line and headers are larger than {self.max_head_bytes} bytes.",
        )
        self.transport.write(response(refusal))
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.lease.release()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        super().handle_websocket_upgrade()
        # uvicorn hands the transport to a WebSocket protocol, which will see the connection end instead.
        socket = self.transport.get_protocol()
        self.transport.set_protocol(_Lifetime(socket, self.lease))

    def _parsed(self, size: int) -> None:
        self.head_parsed += size
        if self.head_parsed > self.max_head_bytes:
            # Raised out of the parser, which stops; uvicorn then answers through send_400_response.
            self.head_too_large = True
            raise HeadTooLarge

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

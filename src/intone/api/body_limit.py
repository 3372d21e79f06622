"""Request bodies are bounded, and a request that needs a key and sends none is refused before its body.

FastAPI reads and parses a body before it runs any dependency, the key check included, so without this a
client with no key could make the server read (and hold) a body of any size just to be told 401. This
ASGI middleware answers first:

- a request with a body but no `xi-api-key` on a route that needs a key gets the route's own 401, before
  a byte of the body is read;
- a `Content-Length` over the limit gets 413 `payload_too_large` at once;
- a body without a length (chunked) is counted as it arrives, and 413 comes as soon as it passes the
  limit, whatever the app was doing with it.

A refusal that leaves a large or unknown rest of the body unread closes the connection (`Connection:
close`): the server would otherwise read that rest to find the next request. WebSocket messages have their
own limit (`MAX_MESSAGE_BYTES`).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intone.api.auth import carries_key, missing_key
from intone.api.errors import error_response


class _TooLarge(Exception):
    """Raised into the app from `receive` when a body passes the limit."""


class BodyLimit:
    """ASGI middleware: the key before the body, and bodies up to `limit` bytes. `keyed` are the routes that
    need a key (none with auth off)."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        keyed: Sequence[BaseRoute],
        uploads: Sequence[tuple[BaseRoute, int, str]] = (),
    ) -> None:
        """`uploads`: routes that take files, each with its own body limit and the setting that sets it."""
        self.app = app
        self.limit = limit
        self.keyed = keyed
        self.uploads = uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = _content_length(headers)
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if (chunked or length) and not carries_key(headers) and self._needs_key(scope):
            refused = missing_key()
            close = length is None or length > self.limit
            await _refusal(refused.http_status, refused.status, refused.message, close)(scope, receive, send)
            return
        limit, setting = self._limit(scope)
        if length is not None and length > limit:
            await _too_large(limit, setting)(scope, receive, send)
            return
        await self._counted(scope, receive, send, limit, setting)

    def _needs_key(self, scope: Scope) -> bool:
        return any(route.matches(scope)[0] is Match.FULL for route in self.keyed)

    def _limit(self, scope: Scope) -> tuple[int, str]:
        """The body limit of the request's route, and the setting that sets it."""
        for route, limit, setting in self.uploads:
            if route.matches(scope)[0] is Match.FULL:
                return limit, setting
        return self.limit, "INTONE_MAX_BODY_BYTES"

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int, setting: str) -> None:
        """Runs the app with a `receive` that stops at the limit; the app's own answer to the body cut
        short (FastAPI turns any failure to read it into a 400) gives way to the 413."""
        received = 0
        exceeded = started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLarge:
            if started:  # a response already under way cannot become a 413; the server ends it
                raise
        if exceeded and not started:
            await _too_large(limit, setting)(scope, receive, send)


def _too_large(limit: int, setting: str) -> JSONResponse:
    message = f"The request body is larger than this server accepts ({limit} bytes, set by {setting})."
    return _refusal(413, "payload_too_large", message, close=True)


def _content_length(headers: Headers) -> int | None:
    """The declared body length; None when absent or unreadable (the server refuses the latter itself)."""
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None


def _refusal(http_status: int, status: str, message: str, close: bool) -> JSONResponse:
    return error_response(http_status, status, message, {"connection": "close"} if close else None)

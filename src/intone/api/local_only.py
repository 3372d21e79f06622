"""With authentication off, only this machine may drive the server, not a web page it has open.

Auth off is allowed on loopback addresses only, but a browser on this machine reaches them too: a page of
another site can send requests (a socket, or a POST that needs no CORS preflight), and a DNS-rebinding
page can even read the answers, as its own name then points at 127.0.0.1. So a request is refused (403,
before the app sees it) when its `Host` names anything but this machine, or when it comes from a page
(`Origin`) of another site. Clients that send no `Origin` (the SDKs, curl) are unaffected.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from intone.api.errors import error_response

_HOST_REFUSED = (
    "host_not_allowed",
    "With INTONE_AUTH=off this server answers only requests addressed to this machine (localhost, "
    "127.0.0.1 or [::1]); a page that renamed it (DNS rebinding) is refused. Turn authentication on to "
    "serve other names.",
)
_ORIGIN_REFUSED = (
    "origin_not_allowed",
    "With INTONE_AUTH=off this server refuses requests from web pages of other sites (the Origin header); "
    "pages served from localhost may call it. Turn authentication on to serve other sites.",
)


class LocalOnly:
    """ASGI middleware refusing HTTP requests and WebSocket handshakes that do not come from this machine's
    own clients."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or (refused := _refusal(scope)) is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await error_response(403, *refused)(scope, receive, send)
        else:
            await _deny_handshake(refused, receive, send, scope)


def _refusal(scope: Scope) -> tuple[str, str] | None:
    headers = Headers(scope=scope)
    server = scope.get("server")
    own = str(server[0]).lower() if server else None
    host, origin = headers.get("host"), headers.get("origin")
    if host is not None and not _local(_host_name(host), own):
        return _HOST_REFUSED
    # `Origin: null` comes from sandboxed frames and files, which any site can make.
    if origin is not None and not _local(_origin_name(origin), own):
        return _ORIGIN_REFUSED
    return None


def _host_name(host: str) -> str | None:
    try:
        return urlsplit(f"//{host}").hostname
    except ValueError:  # an unclosed IPv6 bracket
        return None


def _origin_name(origin: str) -> str | None:
    try:
        parts = urlsplit(origin)
    except ValueError:
        return None
    return parts.hostname if parts.scheme in ("http", "https") else None


def _local(name: str | None, own: str | None) -> bool:
    """Whether `name` is this machine: a loopback address, `localhost` (whose subdomains browsers resolve
    to loopback themselves), or the address the server listens on."""
    if not name:
        return False
    name = name.rstrip(".")
    return name == own or name == "localhost" or name.endswith(".localhost") or loopback(name)


def loopback(address: str) -> bool:
    """Whether `address` is an IP address of this machine's loopback (an IPv4-mapped one too)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(parsed, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return parsed.is_loopback or (mapped is not None and mapped.is_loopback)


async def _deny_handshake(refused: tuple[str, str], receive: Receive, send: Send, scope: Scope) -> None:
    """Refuses the upgrade with a 403 and the error as JSON; a server that cannot send a body with a
    refusal gets a bare 403."""
    await receive()  # websocket.connect
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008})
        return
    response = error_response(403, *refused)
    await send({"type": "websocket.http.response.start", "status": 403, "headers": response.raw_headers})
    await send({"type": "websocket.http.response.body", "body": response.body})

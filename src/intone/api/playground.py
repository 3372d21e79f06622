"""The playground: a page at `/` to hear the server, and its scripts and styles under `/playground/`.

The page holds no secret, so it needs no key; the API calls it makes do (it asks for a key once and
sends it in `xi-api-key`). Its files come from the package (`intone/web/`), nothing from elsewhere, and a
strict Content-Security-Policy lets it run only its own script and talk only to this server.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WEB = Path(str(importlib.resources.files("intone") / "web"))

# 'self' covers the same host's WebSockets (ws: and wss:) too; blob: is the downloaded and played audio.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "media-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


class _Guarded:
    """The static files, with the page's security headers on every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).extend(
                    (name.encode(), value.encode()) for name, value in _HEADERS.items()
                )
            await send(message)

        await self.app(scope, receive, send_guarded)


def install(app: FastAPI) -> None:
    """Serves the page at `/` and its files under `/playground/`."""

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(WEB / "index.html", media_type="text/html; charset=utf-8", headers=_HEADERS)

    app.mount("/playground", _Guarded(StaticFiles(directory=WEB)), name="playground")

"""Builds the ASGI app: routers, error shapes, the request-id header, and start-up and shut-down.

Start-up opens the store (migrating it) and starts loading the engines in the background: `/health`
answers at once, `/ready` turns 200 once every engine has loaded and spoken a word, so the first real
request does not pay for loading.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intone.admission.limiter import Limiter
from intone.api import errors, models, stream_input, text_to_speech, user, voices
from intone.api.state import Services
from intone.config import Settings
from intone.engines.registry import ENGINE_CLASSES, EngineSet
from intone.speech.synthesizer import Synthesizer
from intone.store.database import Store

log = logging.getLogger("intone")

REQUEST_ID_HEADER = "request-id"


class RequestId:
    """Gives every response a `request-id` header (ASGI middleware, so streams stay streams)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((REQUEST_ID_HEADER.encode(), request_id.encode()))
            await send(message)

        await self.app(scope, receive, send_with_id)


def _warm_up(engines: EngineSet, ready: threading.Event) -> None:
    try:
        for name in ENGINE_CLASSES:
            engines.get(name)
        log.info("engines loaded: %s", ", ".join(ENGINE_CLASSES))
    except Exception:
        log.exception("loading the engines failed; /ready stays 503")
        return
    ready.set()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store(settings.database())
        store.migrate()
        engines = EngineSet(settings.data_dir, settings.engine_threads)
        executor = ThreadPoolExecutor(settings.engine_workers, thread_name_prefix="engine")
        svc = Services(
            settings=settings,
            engines=engines,
            synthesizer=Synthesizer(engines),
            store=store,
            limiter=Limiter(settings.max_concurrent_requests),
            executor=executor,
        )
        app.state.services = svc
        if settings.warm_up:
            threading.Thread(target=_warm_up, args=(engines, svc.ready), name="warm-up", daemon=True).start()
        else:
            svc.ready.set()
        try:
            yield
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
            store.close()

    # The documentation pages come with their scripts: a browser offline (or air-gapped) still renders them.
    app = FastAPIOffline(
        title="Intone",
        summary="A self-hosted speech server that speaks the ElevenLabs API.",
        version="0.1.0",
        lifespan=lifespan,
    )
    errors.install(app)
    app.add_middleware(RequestId)
    for module in (text_to_speech, stream_input, models, voices, user):
        app.include_router(module.router)

    @app.get("/health", tags=["service"], summary="The process is up")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["service"], summary="The engines are loaded and requests are answered at speed")
    async def ready(request: Request) -> JSONResponse:
        if request.app.state.services.ready.is_set():
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "loading"}, status_code=503)

    return app

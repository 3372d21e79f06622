"""Builds the ASGI app: routers, error shapes, the request-id header, and start-up and shut-down.

Start-up opens the store (migrating it) and starts loading the engines in the background: `/health`
answers at once, `/ready` turns 200 once every engine has loaded and spoken a word, so the first real
request does not pay for loading. From start-up on, the process keeps its requests' pending charges
alive and gives back those a dead process left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import redis
import redis.asyncio
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intone import metrics, private, redaction
from intone.admission.admission import Admission
from intone.admission.gates import Gates, LocalGates
from intone.api import (
    errors,
    history,
    keys,
    models,
    monitoring,
    playground,
    pronunciation_dictionaries,
    speech_to_text,
    speech_to_text_realtime,
    stream_input,
    text_to_dialogue,
    text_to_speech,
    tokens,
    user,
    voices,
)
from intone.api.auth import needs_key
from intone.api.body_limit import BodyLimit
from intone.api.local_only import LocalOnly
from intone.api.openai import speech as openai_speech
from intone.api.openai import transcriptions as openai_transcriptions
from intone.api.state import Services, TokenStore
from intone.cluster.gates import RedisGates
from intone.cluster.health import RedisHealth
from intone.cluster.tokens import RedisTokens
from intone.config import Settings
from intone.engines.registry import EngineSet
from intone.engines.whisper import WhisperEngine, model_dir
from intone.previews import Previews
from intone.scheduling.scheduler import BACKGROUND, Scheduler
from intone.scheduling.speeds import CROWDING
from intone.speech.synthesizer import SpeechRequest, Synthesizer
from intone.store.database import Store
from intone.store.history import Retention
from intone.transcription.transcriber import Transcriber

log = logging.getLogger("intone")

REQUEST_ID_HEADER = "request-id"
PRUNE_INTERVAL_S = 3600
REDIS_TIMEOUT_S = 5.0
# What a speech-to-text form holds beside its file: the boundaries and the other fields.
FORM_ROOM = 64 * 1024


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


# One request per engine and front end: Kokoro in English (with no language given, so the language
# detector loads too) and in Mandarin (jieba builds its dictionary on first use), Piper (it speaks only
# American men, Brian among them), espeak-ng in Polish (which only it speaks).
_WARM_UP = (
    SpeechRequest(text="Ready.", model_id="eleven_multilingual_v2"),
    SpeechRequest(text="好的。", model_id="eleven_multilingual_v2", language="zh"),
    SpeechRequest(text="Ready.", voice_id="Brian", model_id="eleven_flash_v2", language="en"),
    SpeechRequest(text="Gotowe.", model_id="eleven_multilingual_v2", language="pl"),
)


def _warm_up(svc: Services) -> None:
    """Loads every engine and speaks a word with each: ONNX Runtime's first run is slow, and that
    should not be any client's first request. Then the default voice calibrates for windowed decoding,
    in the background, if it has not yet (once per data directory)."""
    synthesizer = svc.synthesizer
    try:
        for request in _WARM_UP:
            for _ in synthesizer.stream(synthesizer.plan(request)):
                pass
        svc.transcriber.engine.load()
        log.info("engines loaded and warmed up")
    except Exception:
        log.exception("loading the engines failed; /ready stays 503")
        return
    svc.ready.set()
    # One background step each, so a request waits for at most one; twice, because an engine's first
    # run of windowed decoding pays one-time costs.
    for request in _SPEED_RUNS * 2:
        svc.scheduler.submit(lambda request=request: _measure_speed(svc, request), deadline=BACKGROUND)
    svc.calibrate_soon(synthesizer.plan(_WARM_UP[0]))


# About two seconds of audio each: long enough that an engine's fixed cost per call counts little, short
# enough that a request arriving meanwhile waits for a worker only briefly.
_SPEED_TEXT = "The birch canoe slid on the smooth planks."
_SPEED_RUNS = (
    SpeechRequest(text=_SPEED_TEXT, model_id="eleven_multilingual_v2", language="en"),
    SpeechRequest(text=_SPEED_TEXT, voice_id="Brian", model_id="eleven_flash_v2", language="en"),
)


def _measure_speed(svc: Services, request: SpeechRequest) -> None:
    """Times the request's engine on one core, as background work (so alone unless requests came
    early), so that admission weighs requests by this machine's speed from the start, not a prior."""
    synthesizer = svc.synthesizer
    try:
        plan = synthesizer.plan(request)
        began = time.perf_counter()
        audio = sum(chunk.duration for chunk in synthesizer.stream(plan))
        svc.scheduler.speeds.start_from(plan.engine, time.perf_counter() - began, audio)
    except Exception:
        log.exception("measuring an engine's speed failed; admission starts from its prior")
        return
    alone = svc.scheduler.speeds.factor(plan.engine) / CROWDING
    log.info("%s: %.3f s of engine time per second of audio on one core", plan.engine, alone)


def _needs_key(route: BaseRoute) -> bool:
    return isinstance(route, APIRoute) and needs_key(route.dependant)


def _retention(settings: Settings) -> Retention:
    return Retention(
        int(settings.history_max_audio_mb * 1_000_000), timedelta(days=settings.history_max_age_days)
    )


async def _prune_history(store: Store) -> None:
    """Drops history audio past its age or its key's budget, now and every hour: a key that stops
    making requests must not keep its audio forever (each new generation prunes its own key's too)."""
    while True:
        try:
            pruned = await run_in_threadpool(store.history.prune)
            if pruned:
                log.info("dropped the audio of %d history items past the history limits", pruned)
        except Exception:
            log.exception("pruning the history failed; it is tried again in an hour")
        await asyncio.sleep(PRUNE_INTERVAL_S)


async def _keep_charges(store: Store) -> None:
    """Renews this process's pending charges and gives back those past their lease (left by a process
    that died mid-request), now and every third of a lease, so a live request's charge never lapses."""
    interval = store.charges.lease.total_seconds() / 3
    while True:
        try:
            await run_in_threadpool(store.charges.renew)
            refunded = await run_in_threadpool(store.charges.expire)
            if refunded:
                log.info("gave back %d pending charges of requests a stopped server left undone", refunded)
        except Exception:
            log.exception("renewing pending charges failed; tried again in %.0f s", interval)
        await asyncio.sleep(interval)


@asynccontextmanager
async def _shared_state(
    settings: Settings, store: Store
) -> AsyncIterator[tuple[Gates, TokenStore, RedisHealth | None]]:
    """Per-key concurrency and single-use tokens: in Redis when replicas share them, else local."""
    if settings.redis_url is None:
        yield LocalGates(settings.max_queued_requests), store.tokens, None
        return
    # Timeouts, so that a Redis host that swallows packets fails requests with a 503 instead of hanging them.
    timeouts = {"socket_connect_timeout": REDIS_TIMEOUT_S, "socket_timeout": REDIS_TIMEOUT_S}
    shared = redis.asyncio.Redis.from_url(settings.redis_url, **timeouts)
    tokens = redis.Redis.from_url(settings.redis_url, **timeouts)
    health = RedisHealth(shared, settings.redis_url)
    await health.check_at_start()
    try:
        yield RedisGates(shared, settings.max_queued_requests), RedisTokens(tokens), health
    finally:
        await shared.aclose()
        tokens.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        private.directory(settings.data_dir)
        metrics.forget_dead_workers()
        store = Store(settings.database(), _retention(settings), timedelta(seconds=settings.charge_lease))
        store.migrate()
        pruning = asyncio.create_task(_prune_history(store), name="history pruning")
        charging = asyncio.create_task(_keep_charges(store), name="pending charges")
        scheduler = Scheduler(settings.engine_workers)
        async with _shared_state(settings, store) as (key_gates, token_store, redis_health):
            admission = Admission(
                key_gates,
                LocalGates(settings.max_queued_requests),
                settings.engine_workers * settings.load_limit,
                settings.queue_timeout,
                settings.max_concurrent_requests,
            )
            synthesizer = Synthesizer(
                EngineSet(settings.engine_cache(), settings.engine_threads, settings.voices_dir)
            )
            # Joined from its two packages once, and checked: a damaged model stops the start here.
            folder = await asyncio.to_thread(model_dir, settings.engine_cache())
            whisper = WhisperEngine(settings.engine_cache(), settings.engine_threads, folder)
            svc = Services(
                settings=settings,
                synthesizer=synthesizer,
                store=store,
                admission=admission,
                tokens=token_store,
                scheduler=scheduler,
                previews=Previews(synthesizer, settings.data_dir / "previews"),
                transcriber=Transcriber(whisper, settings.max_transcription_seconds),
                redis=redis_health,
            )
            app.state.services = svc
            if settings.warm_up:
                threading.Thread(target=_warm_up, args=(svc,), name="warm-up", daemon=True).start()
            else:
                svc.ready.set()
            try:
                yield
            finally:
                pruning.cancel()
                charging.cancel()
                await asyncio.to_thread(scheduler.shutdown)
                await admission.close()
                with contextlib.suppress(asyncio.CancelledError):
                    await pruning
                with contextlib.suppress(asyncio.CancelledError):
                    await charging
                store.close()

    # The documentation pages come with their scripts: a browser offline (or air-gapped) still renders them.
    app = FastAPIOffline(
        title="Intone",
        summary="A self-hosted speech server that speaks the ElevenLabs API.",
        version="0.1.0",
        lifespan=lifespan,
    )
    errors.install(app)
    redaction.install()
    modules = (
        text_to_speech,
        text_to_dialogue,
        stream_input,
        models,
        voices,
        user,
        history,
        pronunciation_dictionaries,
        tokens,
        keys,
        monitoring,
        speech_to_text,
        speech_to_text_realtime,
    )
    routers = [
        *(module.router for module in modules),
        voices.previews_router,
        openai_speech.router,
        openai_transcriptions.router,
    ]
    # With auth on, a request to one of these that sends no key is refused before its body is read.
    keyed = [route for router in routers for route in router.routes if _needs_key(route)]
    # Middleware added first runs last: the body limit, then LocalOnly, inside RequestId, so that every
    # refusal carries a request-id.
    uploads = [
        (route, settings.max_transcription_bytes + FORM_ROOM, "INTONE_MAX_TRANSCRIPTION_BYTES")
        for route in (*speech_to_text.router.routes, *openai_transcriptions.router.routes)
    ]
    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        keyed=keyed if settings.auth == "required" else [],
        uploads=uploads,
    )
    if settings.auth == "off":
        app.add_middleware(LocalOnly)
    app.add_middleware(monitoring.Observed)  # inside RequestId: it logs the request-id
    app.add_middleware(RequestId)
    for router in routers:
        app.include_router(router)
    playground.install(app)

    @app.get("/health", tags=["service"], summary="The process is up")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["service"], summary="The engines are loaded and requests are answered at speed")
    async def ready(request: Request) -> JSONResponse:
        svc: Services = request.app.state.services
        if not svc.ready.is_set():
            return JSONResponse({"status": "loading"}, status_code=503)
        if svc.redis is not None and not await svc.redis.answers():
            return JSONResponse({"status": "redis_unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    return app

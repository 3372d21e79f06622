"""`GET /metrics` (Prometheus' text format), and the middleware that counts and times every request and
writes its access line.

Who may scrape (INTONE_METRICS): `local`, the default, serves clients on this machine (a loopback
address, and no proxy's forwarding header) and asks others for INTONE_METRICS_TOKEN as a bearer token or
an API key with the admin scope; `open` serves anyone; `off` has no such route (404).
"""

from __future__ import annotations

import hmac
import logging
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intone import logs, metrics
from intone.accounts.scopes import Scope as KeyScope
from intone.api.auth import AuthError, check_scope, identify
from intone.api.errors import ApiError
from intone.api.local_only import loopback
from intone.api.state import Services, services
from intone.metrics import RequestRecord

access_log = logging.getLogger(logs.ACCESS_LOGGER)

router = APIRouter(tags=["service"])

# A proxy on this machine makes every client look local; one that says it forwarded is not trusted so.
_FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


@router.get(
    "/metrics",
    summary="The server's metrics in Prometheus' text format",
    response_class=Response,
    responses={200: {"content": {metrics.CONTENT_TYPE: {}}}},
)
async def scrape(
    request: Request,
    svc: Annotated[Services, Depends(services)],
    authorization: Annotated[str | None, Header(description="`Bearer` and INTONE_METRICS_TOKEN.")] = None,
    xi_api_key: Annotated[str | None, Header(description="An API key with the admin scope.")] = None,
) -> Response:
    await _check_access(request.scope, svc, authorization, xi_api_key)
    # In multiprocess mode this reads every worker's files.
    return Response(await run_in_threadpool(metrics.exposition), media_type=metrics.CONTENT_TYPE)


async def _check_access(scope: Scope, svc: Services, authorization: str | None, key: str | None) -> None:
    settings = svc.settings
    if settings.metrics == "off":
        raise ApiError(404, "not_found", "There is no such endpoint here: INTONE_METRICS is off.")
    if settings.metrics == "open" or _from_this_machine(scope):
        return
    token = settings.metrics_token
    if token is not None and authorization is not None:
        expected = f"Bearer {token.get_secret_value()}"
        if hmac.compare_digest(authorization.encode(), expected.encode()):
            return
    if key:
        try:
            check_scope(await run_in_threadpool(identify, svc, key), KeyScope.ADMIN)
        except AuthError as error:
            raise error.api_error() from None
        return
    raise ApiError(
        401,
        "unauthorized",
        "Metrics are served to other machines with INTONE_METRICS_TOKEN as a bearer token "
        "(Authorization: Bearer ...) or an API key with the admin scope (xi-api-key).",
    )


def _from_this_machine(scope: Scope) -> bool:
    client = scope.get("client")
    if not client or any(name in Headers(scope=scope) for name in _FORWARDING_HEADERS):
        return False
    return loopback(str(client[0]).split("%", 1)[0])


class Observed:
    """ASGI middleware: counts and times each HTTP request (its first body byte, its last), counts open
    WebSockets, and writes each one's access line. Inside RequestId, so that it knows the request-id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        record = RequestRecord(scope)
        watch = _watch_http if scope["type"] == "http" else _watch_socket
        with metrics.recording(record):
            try:
                await self.app(scope, receive, watch(record, send))
            except BaseException:
                record.status = record.status or 500  # the server's error middleware answers 500
                raise
            finally:
                _finish(record)


def _watch_http(record: RequestRecord, send: Send) -> Send:
    async def watched(message: Message) -> None:
        await send(message)
        if message["type"] == "http.response.start":
            record.status = message["status"]
        elif message["type"] == "http.response.body":
            more = message.get("more_body", False)
            # Timed once the bytes are handed to the connection: the first that carry some, and the last.
            if record.first_byte is None and (message.get("body") or not more):
                record.first_byte = time.perf_counter()
            if not more:
                record.ended = time.perf_counter()

    return watched


def _watch_socket(record: RequestRecord, send: Send) -> Send:
    async def watched(message: Message) -> None:
        await send(message)
        if message["type"] == "websocket.accept":
            record.status, record.opened = 101, True
            metrics.socket_opened()
        elif message["type"] == "websocket.close":
            record.status = message.get("code", 1000)
        elif message["type"] == "websocket.http.response.start":  # a refused handshake
            record.status = message["status"]

    return watched


def _finish(record: RequestRecord) -> None:
    record.ended = record.ended or time.perf_counter()
    if record.kind == "http":
        metrics.answered(record)
    elif record.opened:
        metrics.socket_closed()
    if access_log.isEnabledFor(logging.INFO):  # only JSON logs keep access lines
        fields = logs.access_fields(record)
        access_log.info("%s %s %s", record.method, record.path, record.status, extra=fields)

"""What the server has done, as Prometheus metrics: the instruments, the calls that record into them, and
their text exposition for `GET /metrics` (`intone.api.metrics`).

The layers record through the functions here, one call each where the thing happens: the scheduler
(engine time), admission (queue wait), grants (streams running, credits charged, 429s), the serving
layer (connections refused). What concerns one HTTP request (its route, model and key, its time to
first byte) is gathered on a `RequestRecord` that `intone.api.metrics.Observed` sets for the request's
context, so a call deep in the request can add to it without being handed the request.

With `intone serve --workers N` each worker process records into files in a directory set before the
workers start (`worker_directory`), and a scrape of any worker reads them all (prometheus_client's
multiprocess mode): the numbers are the server's, whichever worker answers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

CONTENT_TYPE = CONTENT_TYPE_LATEST
# prometheus_client reads it when it is imported: `intone serve` sets it before its workers start.
MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "unmatched"  # the route label of a request no route matched (bounded, unlike its path)

# Every counter and histogram would also say when its series began: twice the lines for nothing a
# dashboard uses.
disable_created_metrics()

REQUESTS = Counter(
    "intone_http_requests_total",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
TIME_TO_FIRST_BYTE = Histogram(
    "intone_speech_time_to_first_byte_seconds",
    "Seconds from a speech request's arrival to the first byte of its response body, by model.",
    ["model"],
    buckets=(0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30),
)
SPEECH_DURATION = Histogram(
    "intone_speech_duration_seconds",
    "Seconds from a speech request's arrival to the last byte of its response, by model.",
    ["model"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300),
)
QUEUE_WAIT = Histogram(
    "intone_queue_wait_seconds",
    "Seconds a synthesis request waited for its places (its key's and the server's), by the key's tier.",
    ["tier"],
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
ENGINE_SECONDS = Counter(
    "intone_engine_seconds_total",
    "Seconds engine workers spent computing, by engine.",
    ["engine"],
)
ENGINE_AUDIO = Counter(
    "intone_engine_audio_seconds_total",
    "Seconds of audio the engines made, by engine.",
    ["engine"],
)
REAL_TIME_FACTOR = Histogram(
    "intone_engine_real_time_factor",
    "Engine seconds per second of audio of each engine step (a window of a stream), by engine.",
    ["engine"],
    buckets=(0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5),
)
ACTIVE_STREAMS = Gauge(
    "intone_active_streams",
    "Synthesis requests holding a place: HTTP requests, and realtime sockets' segments being spoken.",
    multiprocess_mode="livesum",
)
OPEN_SOCKETS = Gauge(
    "intone_open_sockets",
    "WebSocket connections accepted and not yet closed.",
    multiprocess_mode="livesum",
)
CHARACTERS_CHARGED = Counter(
    "intone_characters_charged_total",
    "Credits (characters times the model's cost multiplier) charged to keys' quotas for delivered audio.",
)
TOO_MANY_REQUESTS = Counter(
    "intone_too_many_requests_total",
    "Requests, sockets and connections refused with 429, by reason (the error's status code).",
    ["reason"],
)


@dataclass
class RequestRecord:
    """One HTTP request or WebSocket as the metrics and the access log see it."""

    scope: dict[str, Any]  # the ASGI scope: routing and authentication add to it as the request goes
    started: float = field(default_factory=time.perf_counter)
    status: int | None = None
    model: str | None = None
    key_id: str | None = None
    first_byte: float | None = None
    ended: float | None = None
    opened: bool = False  # a WebSocket was accepted (it counts among the open sockets until it ends)

    @property
    def kind(self) -> str:
        return self.scope["type"]  # "http" or "websocket"

    @property
    def method(self) -> str:
        return self.scope.get("method", "GET")

    @property
    def path(self) -> str:
        return self.scope["path"]

    @property
    def route(self) -> str:
        """The template of the route that took the request (once routed): a bounded label, unlike a path."""
        return getattr(self.scope.get("route"), "path", None) or UNMATCHED

    @property
    def request_id(self) -> str | None:
        return self.scope.get("state", {}).get("request_id")

    @property
    def caller_id(self) -> str | None:
        """The key id behind the request (never the key), once known."""
        caller = self.scope.get("state", {}).get("caller")
        return self.key_id or (caller.subject if caller is not None else None)

    def seconds(self, moment: float | None) -> float | None:
        return None if moment is None else moment - self.started


_current: ContextVar[RequestRecord | None] = ContextVar("intone_request", default=None)


def current() -> RequestRecord | None:
    return _current.get()


@contextlib.contextmanager
def recording(record: RequestRecord) -> Any:
    """Makes `record` the current request's for the block (and the tasks it starts)."""
    token = _current.set(record)
    try:
        yield record
    finally:
        _current.reset(token)


def answered(record: RequestRecord) -> None:
    """Counts a finished HTTP request, and times it by model when it was a speech request."""
    REQUESTS.labels(record.route, record.method, str(record.status or 500)).inc()
    if record.model is None:
        return
    if (first := record.seconds(record.first_byte)) is not None:
        TIME_TO_FIRST_BYTE.labels(record.model).observe(first)
    if (total := record.seconds(record.ended)) is not None:
        SPEECH_DURATION.labels(record.model).observe(total)


def granted(model: str, key_id: str) -> None:
    """A synthesis request got its places: it runs until `ended`."""
    ACTIVE_STREAMS.inc()
    if (record := _current.get()) is not None:
        record.model, record.key_id = model, key_id


def ended(charged: int) -> None:
    """A granted request ended; `charged`: the credits it kept (0 when they were given back)."""
    ACTIVE_STREAMS.dec()
    if charged:
        CHARACTERS_CHARGED.inc(charged)


def waited(tier: str, seconds: float) -> None:
    QUEUE_WAIT.labels(tier).observe(seconds)


def refused(reason: str) -> None:
    """Something was refused with a 429 for `reason` (the error's status code)."""
    TOO_MANY_REQUESTS.labels(reason).inc()


def engine_ran(busy: float, made: tuple[str, float] | None) -> None:
    """An engine step took `busy` seconds; `made`: its engine and the seconds of audio it made, when known."""
    engine, audio = made or ("", 0.0)
    engine = engine or "unknown"
    ENGINE_SECONDS.labels(engine).inc(busy)
    if audio > 0:
        ENGINE_AUDIO.labels(engine).inc(audio)
        REAL_TIME_FACTOR.labels(engine).observe(busy / audio)


def socket_opened() -> None:
    OPEN_SOCKETS.inc()


def socket_closed() -> None:
    OPEN_SOCKETS.dec()


def exposition() -> bytes:
    """Every metric in Prometheus' text format: this process's, or all workers' in multiprocess mode."""
    if MULTIPROCESS_VARIABLE not in os.environ:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return generate_latest(registry)


def worker_directory(data_dir: Path, port: int) -> dict[str, str]:
    """The environment that makes worker processes share their metrics: an empty directory of this
    server's (emptied, so counts of an earlier run do not come back)."""
    directory = data_dir / "metrics" / str(port)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, mode=0o700)
    return {MULTIPROCESS_VARIABLE: str(directory)}


def forget_dead_workers() -> None:
    """Drops the live gauges of worker processes that died (uvicorn starts others in their place), so
    their last values no longer count. Counters and histograms keep what the dead recorded."""
    directory = os.environ.get(MULTIPROCESS_VARIABLE)
    if directory is None:
        return
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        if not _alive(pid):
            mark_process_dead(pid, directory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:  # gone, or the number now belongs to another user's process
        return False
    return True

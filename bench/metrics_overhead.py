"""What metrics and the access line add to a speech request's time to first byte, measured in one run.

Run from the repo root: .venv/bin/python bench/metrics_overhead.py   (prints the numbers)

Three measurements, interleaved so that they see the same machine noise: (1) the `Observed` middleware
around a bare ASGI app that streams like a speech response (a head, then body chunks), against the
bare app, over many requests; (2) the recording calls one streamed request makes besides (granted,
waited, ended, and one engine step a window), in this process and in a child in multiprocess mode (as
with `intone serve --workers N`, where each call writes to a memory-mapped file); (3) the time to first
byte of real Piper requests (`eleven_flash_v2`) from a real `intone serve` on a warm keep-alive
connection. The ratio of (1) + (2) to (3) is the overhead. It is an upper bound: the middleware's whole
cost is counted, not only the part before the first byte, and so are all of a request's engine steps.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # so `tests.api.server` imports when run as a script

import httpx  # noqa: E402
from tests.api.server import Server, serving  # noqa: E402

from intone import metrics  # noqa: E402
from intone.api.monitoring import Observed  # noqa: E402

ROUNDS = 20_000
WINDOWS = 4  # engine steps of a short request
BRIAN = "nPczCjzI2devNBz1zQrb"
SCOPE = {"type": "http", "method": "POST", "path": "/v1/text-to-speech/x/stream", "state": {}, "headers": []}


async def _bare(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for _ in range(3):
        await send({"type": "http.response.body", "body": b"x" * 1024, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _sink(message) -> None:
    return None


async def _receive():
    return {"type": "http.request", "body": b"", "more_body": False}


async def _per_request(app) -> float:
    started = time.perf_counter()
    for _ in range(ROUNDS):
        await app({**SCOPE, "state": {}}, _receive, _sink)
    return (time.perf_counter() - started) / ROUNDS


def _recording_calls() -> float:
    started = time.perf_counter()
    for _ in range(ROUNDS):
        metrics.waited("pro", 0.0)
        metrics.granted("eleven_flash_v2", "key_bench")
        for _ in range(WINDOWS):
            metrics.engine_ran(0.05, ("piper", 0.5))
        metrics.ended(10)
    return (time.perf_counter() - started) / ROUNDS


def _ttfb(server: Server, client: httpx.Client) -> float:
    body = {"text": "Hello there, how are you today?", "model_id": "eleven_flash_v2"}
    url = f"{server.url}/v1/text-to-speech/{BRIAN}/stream"
    started = time.perf_counter()
    first = 0.0
    with client.stream("POST", url, json=body, headers=server.headers) as reply:
        for chunk in reply.iter_bytes():
            if chunk and not first:
                first = time.perf_counter() - started
    return first


def main() -> int:
    if sys.argv[1:] == ["--recording"]:
        print(_recording_calls())
        return 0
    with tempfile.TemporaryDirectory() as data, serving(Path(data), env=_QUIET) as server:
        client = httpx.Client(timeout=60)
        _ttfb(server, client)  # loads Piper
        with_metrics, without, calls, shared_calls, ttfbs = [], [], [], [], []
        for _ in range(5):
            with_metrics.append(asyncio.run(_per_request(Observed(_bare))))
            without.append(asyncio.run(_per_request(_bare)))
            calls.append(_recording_calls())
            shared_calls.append(_recording_calls_shared(Path(data)))
            ttfbs.extend(_ttfb(server, client) for _ in range(3))
        client.close()
    middleware = statistics.median(with_metrics) - statistics.median(without)
    ttfb = statistics.median(ttfbs)
    print(f"middleware per request: {middleware * 1e6:.1f} µs")
    print(f"time to first byte (Piper, real server): {ttfb * 1e3:.1f} ms")
    for mode, samples in (("one process", calls), ("multiprocess", shared_calls)):
        recording = statistics.median(samples)
        print(f"{mode}: recording calls per request ({WINDOWS} windows) {recording * 1e6:.1f} µs; ", end="")
        print(f"overhead {(middleware + recording) / ttfb * 100:.3f} % of time to first byte")
    return 0


_QUIET = {"INTONE_WARM_UP": "false"}


def _recording_calls_shared(data: Path) -> float:
    """`_recording_calls` in a child process whose metrics go to files, as a worker's do."""
    directory = data / "multiprocess"
    directory.mkdir(exist_ok=True)
    env = {**os.environ, metrics.MULTIPROCESS_VARIABLE: str(directory)}
    done = subprocess.run(
        [sys.executable, __file__, "--recording"], env=env, capture_output=True, text=True, check=True
    )
    return float(done.stdout)


if __name__ == "__main__":
    sys.exit(main())

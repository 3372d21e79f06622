"""Latency of the stream-input WebSocket: from a flush to the first audio, and from the end of stream to
the final message.

Run from the repo root: .venv/bin/python bench/ws_latency.py   (prints a table and updates docs/benchmarks.md)

Per model, each run opens a socket to one `intone serve`, sends the init message and a sentence word by
word, the last word with `"flush": true`, and times the audio that follows. The sentence is shorter than
the default schedule's first chunk (120 characters), so nothing is synthesized before the flush. Once
the whole sentence's audio has arrived (its alignment covers every character), `{"text": ""}` ends the
stream and the time to `{"isFinal": true}` is the server's cost of finishing; the close must be 1000.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # so `tests.api.server` imports when run as a script

from tests.api.server import serving  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from intone.engines.registry import EngineSet  # noqa: E402
from intone.speech.synthesizer import SpeechRequest, Synthesizer  # noqa: E402
from report import write_section  # noqa: E402

# George (British man) runs on Kokoro on every model; Roger (American man) on Piper on the fast models.
GEORGE = "JBFqnCBsd6RMkjVDRZzb"
ROGER = "CwhRBWXzGAHq8TQ4Fs17"
ENGLISH = "The birch canoe slid on the smooth planks, and the sun was warm on the water."
FRENCH = "Le canot de bouleau glissait sur les planches lisses, et il faisait beau."
DUTCH = "De kano van berkenhout gleed over de gladde planken, en het was mooi weer."  # no Kokoro pack
ROUNDS = 5
TIMEOUT = 60.0  # seconds to wait for any one message; far above the slowest engine's sentence


@dataclass(frozen=True)
class Case:
    label: str
    model_id: str
    text: str
    language: str | None = None
    voice: str = GEORGE


CASES = (
    Case("Kokoro (eleven_multilingual_v2)", "eleven_multilingual_v2", ENGLISH),
    Case("Kokoro, French", "eleven_multilingual_v2", FRENCH, language="fr"),
    Case("Piper (eleven_flash_v2_5)", "eleven_flash_v2_5", ENGLISH, voice=ROGER),
    Case("espeak-ng (eleven_multilingual_v2, nl)", "eleven_multilingual_v2", DUTCH, language="nl"),
)


def calibrate(data_dir: Path) -> None:
    """Prepares every case's voice, and the server's default voice (which it calibrates after start-up),
    for windowed decoding in the server's data directory, as `intone voices calibrate` would, so no
    round runs beside a background calibration."""
    synthesizer = Synthesizer(EngineSet(data_dir))
    requests = [SpeechRequest(case.text, case.voice, case.model_id, language=case.language) for case in CASES]
    for request in [*requests, SpeechRequest("Ready.", language="en")]:
        plan = synthesizer.plan(request)
        synthesizer.engines.get(plan.engine)
        work = synthesizer.calibration(plan)
        if work is not None:
            work()


@dataclass
class Round:
    first_audio: float  # flush sent -> first audio message
    all_audio: float  # flush sent -> the audio message that completes the sentence's alignment
    final: float  # end of stream sent -> {"isFinal": true}


@dataclass
class Arrivals:
    """Every server message with the time it arrived, read by a task of its own so that the clock
    stops when a message arrives, not when the sender gets round to looking."""

    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    close_code: int | None = None

    async def read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                self.messages.append((time.perf_counter(), json.loads(raw)))
                self.changed.set()
        except ConnectionClosed:
            pass  # a close other than 1000; its code is checked below
        self.close_code = ws.close_code
        self.changed.set()

    async def first(self, after: float, wanted: Callable[[list[dict[str, Any]]], bool]) -> float:
        """The arrival time of the first message since `after` at which `wanted(messages since after,
        up to and including it)` is true."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            since = [(arrived, message) for arrived, message in self.messages if arrived >= after]
            for count, (arrived, _) in enumerate(since, 1):
                if wanted([message for _, message in since[:count]]):
                    return arrived
            if self.close_code is not None:
                raise RuntimeError(f"closed ({self.close_code}) first; got {self.messages[-1:]}")
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), deadline - time.monotonic())


def _words(text: str) -> list[str]:
    # Word pieces as an LLM client sends them: each word with the space that follows it.
    words = text.split(" ")
    return [word + " " for word in words[:-1]] + [words[-1]]


async def one_round(url: str, key: str, case: Case) -> Round:
    query = {"model_id": case.model_id, **({"language_code": case.language} if case.language else {})}
    target = "".join(case.text.split())

    def audio(messages: list[dict[str, Any]]) -> bool:
        return bool(messages[-1].get("audio"))

    def complete(messages: list[dict[str, Any]]) -> bool:
        # Each audio message aligns the characters it speaks; the sentence is in once they spell it.
        chars = "".join("".join(m["alignment"]["chars"]) for m in messages if m.get("alignment"))
        return "".join(chars.split()) == target

    def final(messages: list[dict[str, Any]]) -> bool:
        return bool(messages[-1].get("isFinal"))

    address = f"{url}/v1/text-to-speech/{case.voice}/stream-input?{urlencode(query)}"
    async with connect(address, additional_headers={"xi-api-key": key}) as ws:
        arrivals = Arrivals()
        reader = asyncio.create_task(arrivals.read(ws))
        try:
            await ws.send(json.dumps({"text": " "}))
            *pieces, last = _words(case.text)
            for piece in pieces:
                await ws.send(json.dumps({"text": piece}))
            flushed = time.perf_counter()
            await ws.send(json.dumps({"text": last, "flush": True}))
            first = await arrivals.first(flushed, audio)
            whole = await arrivals.first(flushed, complete)
            ended = time.perf_counter()
            await ws.send(json.dumps({"text": ""}))
            done = await arrivals.first(ended, final)
            await asyncio.wait_for(reader, TIMEOUT)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    if arrivals.close_code != 1000:
        raise RuntimeError(f"{case.label}: closed with {arrivals.close_code}, not 1000")
    if any(message.get("audio") for arrived, message in arrivals.messages if arrived < flushed):
        raise RuntimeError(f"{case.label}: audio before the flush; the sentence is too long")
    return Round(first - flushed, whole - flushed, done - ended)


async def run(url: str, key: str, case: Case) -> list[Round]:
    await one_round(url, key, case)  # warm-up: the engine's first use of this voice and caches
    return [await one_round(url, key, case) for _ in range(ROUNDS)]


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f}"


def row(case: Case, rounds: list[Round]) -> str:
    return (
        f"| {case.label} | {len(case.text)} | {ms([r.first_audio for r in rounds])} | "
        f"{ms([r.all_audio for r in rounds])} | {ms([r.final for r in rounds])} |"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as data:
        (Path(data) / "server").mkdir()
        calibrate(Path(data) / "server")
        with serving(Path(data) / "server") as server:
            url = server.url.replace("http://", "ws://", 1)
            rows = [row(case, asyncio.run(run(url, server.api_key, case))) for case in CASES]
    table = "\n".join(
        [
            "## WebSocket latency",
            "",
            f"`python bench/ws_latency.py`, {datetime.date.today()}, {os.cpu_count()} cores.",
            "",
            "`/v1/text-to-speech/{voice_id}/stream-input` (mp3_44100_128, voice George, Roger on Piper,",
            "default chunk length schedule) over ws:// on loopback. Each run: a fresh socket, the init",
            "message, one sentence sent word by word with the last word carrying `flush: true` (the sentence",
            "is shorter than the schedule's first chunk, so synthesis starts at the flush); once the whole",
            'sentence\'s audio is in (its alignment spells it), `{"text": ""}` ends the stream. First and',
            "all audio are timed from sending the flush, isFinal from sending the end of stream (the",
            "server's cost of finishing; the close is 1000 every time).",
            f"Medians of {ROUNDS} runs per model after one warm-up run; a reader task takes arrival times.",
            "",
            "| case | characters | flush → first audio ms | flush → all audio ms | EOS → isFinal ms |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    print(table)
    write_section("websocket", table)


if __name__ == "__main__":
    main()

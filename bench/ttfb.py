"""Time to first audio byte of the streaming endpoint, against the engine's own time for that first window.

Run from the repo root: .venv/bin/python bench/ttfb.py   (prints a table and updates docs/benchmarks.md)

One `intone serve` (engine threads 1) and an in-process engine set built the way the server builds its
own take turns on the same first window, so both see the same machine noise. The server's time runs from
sending the request on a warm keep-alive connection to the first non-empty body chunk; the engine's is
`next(iter(synth.stream(plan)))` (prepare the first sentence, decode its first window), the work the
server must finish before it can send a byte, with the cores the idle server's scheduler grants it.
The voice is calibrated for windowed decoding first, in the data directory both share.
"""

from __future__ import annotations

import datetime
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # so `tests.api.server` imports when run as a script

import httpx  # noqa: E402
from tests.api.server import serving  # noqa: E402

from intone.audio.encoders import StreamEncoder  # noqa: E402
from intone.audio.formats import DEFAULT_FORMAT, parse_output_format  # noqa: E402
from intone.engines.cores import WIDEST, granted  # noqa: E402
from intone.engines.registry import EngineSet  # noqa: E402
from intone.speech.synthesizer import SpeechRequest, Synthesizer  # noqa: E402
from intone.speech.windows import WindowPlan  # noqa: E402
from report import write_section  # noqa: E402

# George (British man) runs on Kokoro on every model; Roger (American man) on Piper on the fast models.
GEORGE = "JBFqnCBsd6RMkjVDRZzb"
ROGER = "CwhRBWXzGAHq8TQ4Fs17"
# First sentences of about 75 characters, without a comma: the first window comes out of the middle of
# a whole sentence's prosody.
ENGLISH = (
    "The birch canoe slid on the smooth planks and drifted slowly across the lake. "
    "Glue the sheet to the dark blue background."
)
FRENCH = (
    "Le canot de bouleau glissait sur les planches lisses et traversait le lac calme. "
    "Collez la feuille sur le fond bleu foncé."
)
# Dutch has no Kokoro pack: espeak-ng speaks it.
DUTCH = (
    "De kano van berkenhout gleed over de gladde planken en dreef langzaam over het meer. "
    "Plak het vel op de donkerblauwe achtergrond."
)
ROUNDS = 7
# An idle server's scheduler grants a new request's first window a second core (engines/cores.py);
# the engine alone gets the same.
IDLE_GRANT = min(WIDEST, os.cpu_count() or 1)
GOAL = 0.10  # the server may add at most this share of the engine's first-window time


@dataclass(frozen=True)
class Case:
    label: str
    model_id: str
    text: str
    language: str | None = None
    latency: int | None = None  # optimize_streaming_latency
    voice: str = GEORGE


CASES = (
    Case("Kokoro (eleven_multilingual_v2)", "eleven_multilingual_v2", ENGLISH),
    Case("Kokoro, latency 3", "eleven_multilingual_v2", ENGLISH, latency=3),
    Case("Kokoro, French", "eleven_multilingual_v2", FRENCH, language="fr"),
    Case("Piper (eleven_flash_v2_5)", "eleven_flash_v2_5", ENGLISH, voice=ROGER),
    Case("espeak-ng (eleven_multilingual_v2, nl)", "eleven_multilingual_v2", DUTCH, language="nl"),
)


@dataclass
class Samples:
    plan: list[float]
    first: list[float]
    encoded: list[float]
    ttfb: list[float]
    total: list[float]


class EngineAlone:
    """The server's synthesis path without the server: same engine set, synthesizer, plan and encoder."""

    def __init__(self, data_dir: Path) -> None:
        self.synth = Synthesizer(EngineSet(data_dir, threads=1))
        self.fmt = parse_output_format(DEFAULT_FORMAT, streaming=True)

    def request(self, case: Case) -> SpeechRequest:
        return SpeechRequest(
            text=case.text,
            voice_id=case.voice,
            model_id=case.model_id,
            language=case.language,
            windows=WindowPlan.for_latency(case.latency),
        )

    def calibrate(self, case: Case) -> None:
        """Loads the case's engine and calibrates its voice (cached in the data directory)."""
        plan = self.synth.plan(self.request(case))
        next(iter(self.synth.stream(plan)))
        work = self.synth.calibration(plan)
        if work is not None:
            work()

    def measure(self, case: Case) -> tuple[float, float, float]:
        """Seconds for planning, for the first window, and for the first window plus encoding it."""
        started = time.perf_counter()
        plan = self.synth.plan(self.request(case))
        planned = time.perf_counter()
        with granted(IDLE_GRANT):
            chunk = next(iter(self.synth.stream(plan)))
        first = time.perf_counter()
        data = StreamEncoder(self.fmt, chunk.sample_rate).write(chunk.audio)
        encoded = time.perf_counter()
        if not data:
            raise RuntimeError(f"{case.label}: the encoder held back the whole first window")
        return planned - started, first - planned, encoded - planned


def server_request(client: httpx.Client, url: str, case: Case) -> tuple[float, float]:
    """Seconds to the first non-empty body chunk, and to the end of the response."""
    body: dict[str, object] = {"text": case.text, "model_id": case.model_id}
    if case.language:
        body["language_code"] = case.language
    params = {} if case.latency is None else {"optimize_streaming_latency": case.latency}
    started = time.perf_counter()
    first = None
    url = f"{url}/v1/text-to-speech/{case.voice}/stream"
    with client.stream("POST", url, json=body, params=params) as response:
        if response.status_code != 200:
            response.read()
            raise RuntimeError(f"{case.label}: {response.status_code} {response.text}")
        for data in response.iter_raw():
            if data and first is None:
                first = time.perf_counter() - started
    if first is None:
        raise RuntimeError(f"{case.label}: empty response")
    return first, time.perf_counter() - started


def run(case: Case, client: httpx.Client, url: str, alone: EngineAlone) -> Samples:
    samples = Samples([], [], [], [], [])
    server_request(client, url, case)  # warm-up: caches, blends, the connection
    alone.measure(case)
    for _ in range(ROUNDS):
        ttfb, total = server_request(client, url, case)
        plan, first, encoded = alone.measure(case)
        samples.ttfb.append(ttfb)
        samples.total.append(total)
        samples.plan.append(plan)
        samples.first.append(first)
        samples.encoded.append(encoded)
    return samples


def ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def row(case: Case, samples: Samples) -> str:
    # Overheads are medians of each round's own difference: a round's server request and engine run
    # are seconds apart, so slow drift in machine load (other processes) cancels out of them.
    rounds = list(zip(samples.ttfb, samples.first, samples.encoded, strict=True))
    ratio = statistics.median(ttfb / first for ttfb, first, _ in rounds)
    overhead = ms([ttfb - first for ttfb, first, _ in rounds])
    beyond_encode = ms([ttfb - encoded for ttfb, _, encoded in rounds])
    return (
        f"| {case.label} | {ms(samples.plan):.1f} | {ms(samples.first):.0f} | {ms(samples.encoded):.0f} | "
        f"{ms(samples.ttfb):.0f} | {ratio:.2f} | {overhead:+.0f} | {beyond_encode:+.0f} | "
        f"{ms(samples.total):.0f} |"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as data:
        alone = EngineAlone(Path(data))
        for case in CASES:
            alone.calibrate(case)
        with (
            serving(Path(data)) as server,
            httpx.Client(timeout=120, headers=server.headers) as client,
        ):
            rows = [row(case, run(case, client, server.url, alone)) for case in CASES]
    table = "\n".join(
        [
            "## Time to first byte",
            "",
            f"`python bench/ttfb.py`, {datetime.date.today()}, {os.cpu_count()} cores.",
            "",
            "`POST /v1/text-to-speech/{voice_id}/stream` (mp3_44100_128, voice George, Roger on Piper, two",
            "sentences, the first of about 75 characters without a comma) on a warm keep-alive connection,",
            "from sending the request to the first audio byte, against the same first window synthesized",
            "in the benchmark's own process by an engine set built like the server's (threads 1, and the",
            "second core an idle server grants a first window): the",
            "whole first sentence prepared (prosody), then its first window decoded. The goal: the server",
            f"adds less than {GOAL:.0%} to the engine's first-window time.",
            "",
            f"Medians of {ROUNDS} rounds, each a server request then an engine run. Overheads and the ratio",
            "are medians of each round's own difference, so load that drifts between rounds cancels out.",
            "Overhead: server TTFB - engine first window; beyond encode: server TTFB - (engine + encoding",
            "that window to MP3), the server's own cost. Plan: `Synthesizer.plan` (normalization, chunking).",
            "",
            "| case | plan ms | engine first window ms | engine + encode ms | server TTFB ms | server/engine "
            "| overhead ms | overhead beyond encode ms | full response ms |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    print(table)
    write_section("ttfb", table)


if __name__ == "__main__":
    main()

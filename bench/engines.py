"""Engine benchmark: real-time factor, time to first chunk and peak memory, per engine and thread count.

Run: .venv/bin/python bench/engines.py   (prints a table and updates docs/benchmarks.md)
Each configuration runs in its own process so peak memory is that engine's alone.
"""

from __future__ import annotations

import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import write_section

HARVARD = (
    "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. "
    "It's easy to tell the depth of a well. These days a chicken leg is a rare dish. "
    "Rice is often served in round bowls. The juice of lemons makes fine punch."
)
FIRST = "The birch canoe slid on the smooth planks, it was sunny."  # 53 characters, one chunk
CONFIGS = [(engine, threads) for engine in ("kokoro", "piper", "espeak") for threads in (1, 2)]


def measure(engine_name: str, threads: int) -> dict[str, float]:
    from intone.engines.registry import EngineSet
    from intone.speech.synthesizer import SpeechRequest, Synthesizer

    with tempfile.TemporaryDirectory() as data:
        engines = EngineSet(Path(data), threads=threads)
        started = time.perf_counter()
        engines.get(engine_name)
        load = time.perf_counter() - started
        synth = Synthesizer(engines)

        def plan(text: str):
            base = synth.plan(SpeechRequest(text=text, seed=1))
            return base.__class__(**{**base.__dict__, "engine": engine_name})

        list(synth.stream(plan(FIRST)))  # warm-up
        firsts, rtfs = [], []
        for _ in range(3):
            started = time.perf_counter()
            next(iter(synth.stream(plan(FIRST))))
            firsts.append(time.perf_counter() - started)
            started = time.perf_counter()
            chunks = list(synth.stream(plan(HARVARD)))
            elapsed = time.perf_counter() - started
            audio_seconds = sum(len(c.audio) / c.sample_rate for c in chunks)
            rtfs.append(elapsed / audio_seconds)
    return {
        "load_s": load,
        "rtf": statistics.median(rtfs),
        "first_chunk_s": statistics.median(firsts),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    if len(sys.argv) == 3:
        print(json.dumps(measure(sys.argv[1], int(sys.argv[2]))))
        return
    rows = []
    for engine, threads in CONFIGS:
        out = subprocess.run(
            [sys.executable, __file__, engine, str(threads)], check=True, capture_output=True, text=True
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(
            f"| {engine} | {threads} | {result['load_s']:.2f} | {result['rtf']:.3f} | "
            f"{result['first_chunk_s'] * 1000:.0f} | {result['peak_rss_mb']:.0f} |"
        )
    table = "\n".join(
        [
            "## Engines",
            "",
            f"`python bench/engines.py`, {datetime.date.today()}, {os.cpu_count()} cores.",
            "",
            "Real-time factor (synthesis time / audio time, lower is faster) over six Harvard sentences,",
            "time to the first chunk of a 53-character sentence, and the process's peak memory.",
            "Medians of 3 warm runs; each row is its own process.",
            "",
            "| engine | threads | load s | RTF | first chunk ms | peak RSS MB |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    print(table)
    write_section("engines", table)


if __name__ == "__main__":
    main()

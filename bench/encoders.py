"""Encoding cost per second of audio for every output format.

Encodes 20 s of a speech-like signal at 24 kHz (the usual engine rate) through `StreamEncoder` in
0.5 s chunks, as a streaming request would, resampling included. Reports the median over several
runs, prints a markdown table and writes it into the "Encoders" section of docs/benchmarks.md.

    python bench/encoders.py [--repeat 5] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from datetime import date
from importlib.metadata import version
from pathlib import Path

import numpy as np

from intone.audio.encoders import StreamEncoder
from intone.audio.formats import ALL_FORMATS, parse_output_format
from report import DOC, write_section

INPUT_RATE = 24000
SECONDS = 20.0
CHUNK_SECONDS = 0.5


def speech_like(seconds: float, rate: int = INPUT_RATE, seed: int = 0) -> np.ndarray:
    """Voiced syllables (gliding pitch, formant-weighted harmonics), noisy consonants and pauses."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 120.0 + 25.0 * np.sin(2 * np.pi * 0.3 * t) + 10.0 * np.sin(2 * np.pi * 2.1 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = np.zeros_like(t)
    for k in range(1, 40):
        # Harmonic amplitudes follow a spectral envelope with bumps near 500, 1500 and 2500 Hz.
        freq = k * 120.0
        weight = sum(np.exp(-(((freq - formant) / 200.0) ** 2)) for formant in (500.0, 1500.0, 2500.0))
        voiced += (0.2 + weight) / k * np.sin(k * phase)
    syllables = np.sin(np.pi * 4.0 * t) ** 2
    pauses = np.sin(2 * np.pi * 0.2 * t) > -0.7
    fricatives = 0.15 * rng.standard_normal(len(t)) * (np.cos(np.pi * 4.0 * t) ** 8)
    signal = (voiced / np.abs(voiced).max() * syllables + fricatives) * pauses
    return (0.5 * signal / np.abs(signal).max()).astype(np.float32)


def encode_streamed(name: str, pcm: np.ndarray) -> tuple[float, int]:
    """Seconds taken and bytes produced for one streamed encode."""
    chunk = int(CHUNK_SECONDS * INPUT_RATE)
    started = time.perf_counter()
    encoder = StreamEncoder(parse_output_format(name), INPUT_RATE)
    size = sum(len(encoder.write(pcm[i : i + chunk])) for i in range(0, len(pcm), chunk))
    size += len(encoder.finish())
    return time.perf_counter() - started, size


def measure(repeat: int) -> list[tuple[str, float, float, float]]:
    """Rows of (format, median ms per audio second, times real time, output kbit/s)."""
    pcm = speech_like(SECONDS)
    rows = []
    for name in ALL_FORMATS:
        encode_streamed(name, pcm[:INPUT_RATE])  # warm-up: codec and library initialisation
        runs = [encode_streamed(name, pcm) for _ in range(repeat)]
        median = statistics.median(seconds for seconds, _ in runs)
        kbps = runs[0][1] * 8 / SECONDS / 1000
        rows.append((name, median * 1000 / SECONDS, SECONDS / median, kbps))
    return rows


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def render(rows: list[tuple[str, float, float, float]], repeat: int) -> str:
    libs = ", ".join(f"{pkg} {version(pkg)}" for pkg in ("av", "lameenc", "soxr", "numpy"))
    lines = [
        "## Encoders",
        "",
        f"`python bench/encoders.py` — {date.today().isoformat()}, {cpu_name()} ({os.cpu_count()} cores),",
        f"Python {platform.python_version()}, {libs}.",
        "",
        f"{SECONDS:.0f} s of a speech-like signal at {INPUT_RATE} Hz, streamed through `StreamEncoder` in "
        f"{CHUNK_SECONDS} s chunks (resampling included), median of {repeat} runs, one thread.",
        "",
        "| format | ms per audio second | × real time | output kbit/s |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| `{name}` | {ms:.2f} | {xrt:,.0f} | {kbps:.1f} |" for name, ms, xrt, kbps in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Encoding cost per second of audio, per output format.")
    parser.add_argument("--repeat", type=int, default=5, help="runs per format (median is reported)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    section = render(measure(args.repeat), args.repeat)
    print(section)
    if not args.no_write:
        write_section("encoders", section)
        print(f"\nwrote {DOC}")


if __name__ == "__main__":
    main()

"""Finding pauses in audio for tests: runs of quiet 10 ms frames."""

from __future__ import annotations

import numpy as np

# Quieter than any speech frame and than codec or resampler noise around digital silence.
QUIET_DB = -50.0


def quiet_runs(audio: np.ndarray, rate: int) -> list[tuple[float, float]]:
    """(start, length) in seconds of each run of 10 ms frames whose RMS is below QUIET_DB."""
    size = rate // 100
    frames = audio[: len(audio) // size * size].astype(np.float64).reshape(-1, size)
    quiet = np.sqrt((frames**2).mean(axis=1)) < 10 ** (QUIET_DB / 20)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], quiet.astype(np.int8), [0]))))
    return [
        (start * size / rate, (end - start) * size / rate)
        for start, end in zip(edges[::2], edges[1::2], strict=True)
    ]


def longest_quiet(audio: np.ndarray, rate: int) -> tuple[float, float]:
    """(start, length) of the longest quiet run; (0, 0) when there is none."""
    return max(quiet_runs(audio, rate), key=lambda run: run[1], default=(0.0, 0.0))


def longest_digital_silence(audio: np.ndarray, rate: int) -> tuple[float, float]:
    """(start, length) in seconds of the longest run of samples that are exactly zero, as a pause the
    server makes itself is (an engine's own pauses carry noise)."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], (audio == 0).astype(np.int8), [0]))))
    runs = [(start / rate, (end - start) / rate) for start, end in zip(edges[::2], edges[1::2], strict=True)]
    return max(runs, key=lambda run: run[1], default=(0.0, 0.0))

"""Loudness of speech for tests and benchmarks: the RMS of its active 10 ms frames."""

from __future__ import annotations

import numpy as np

# Frames quieter than this are pauses, not speech.
SILENCE_DB = -45.0


def active_rms_db(audio: np.ndarray, rate: int) -> float:
    """RMS in dBFS over the 10 ms frames louder than SILENCE_DB."""
    size = rate // 100
    frames = audio[: len(audio) // size * size].reshape(-1, size)
    rms = np.sqrt((frames**2).mean(axis=1))
    active = frames[rms > 10 ** (SILENCE_DB / 20)]
    return float(20 * np.log10(np.sqrt((active**2).mean())))

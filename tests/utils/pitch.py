"""Median speaking pitch of a clip, by the YIN method on voiced 40 ms frames (tests and benchmarks).

Adult male speech sits around 85-155 Hz and adult female speech around 165-255 Hz; a voice's median
over a few sentences tells the two apart with room to spare.
"""

from __future__ import annotations

import numpy as np
import soxr

_RATE = 16_000
_FRAME = 640  # 40 ms: two periods of the lowest pitch searched
_HOP = 160
_LOW_HZ, _HIGH_HZ = 60.0, 450.0
# YIN's aperiodicity threshold: a frame whose normalized difference dips below it is voiced.
_THRESHOLD = 0.15


def frame_pitches(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The pitch in Hz of every voiced frame."""
    signal = soxr.resample(audio.astype(np.float32), sample_rate, _RATE).astype(np.float64)
    min_lag, max_lag = int(_RATE / _HIGH_HZ), int(_RATE / _LOW_HZ)
    loudest = np.abs(signal).max() if len(signal) else 0.0
    pitches = []
    for start in range(0, len(signal) - _FRAME - max_lag, _HOP):
        frame = signal[start : start + _FRAME + max_lag]
        if np.sqrt(np.mean(frame[:_FRAME] ** 2)) < 0.02 * loudest:
            continue  # silence or breath
        lag = _yin_lag(frame, min_lag, max_lag)
        if lag is not None:
            pitches.append(_RATE / lag)
    return np.array(pitches)


def median_pitch(audio: np.ndarray, sample_rate: int) -> float:
    """Median pitch of the voiced frames in Hz (nan when nothing is voiced)."""
    pitches = frame_pitches(audio, sample_rate)
    return float(np.median(pitches)) if len(pitches) else float("nan")


def _yin_lag(frame: np.ndarray, min_lag: int, max_lag: int) -> float | None:
    head = frame[:_FRAME]
    lags = np.arange(1, max_lag + 1)
    shifted = np.lib.stride_tricks.sliding_window_view(frame, _FRAME)[1 : max_lag + 1]
    diff = ((shifted - head) ** 2).sum(axis=1)
    cumulative = np.cumsum(diff) / lags
    normalized = np.where(cumulative > 0, diff / np.maximum(cumulative, 1e-12), 1.0)
    candidates = np.nonzero(normalized[min_lag - 1 :] < _THRESHOLD)[0]
    if not len(candidates):
        return None
    index = candidates[0] + min_lag - 1
    # Walk down to the local minimum, then refine it with a parabola through its neighbours.
    while index + 1 < len(normalized) and normalized[index + 1] < normalized[index]:
        index += 1
    if 0 < index < len(normalized) - 1:
        a, b, c = normalized[index - 1], normalized[index], normalized[index + 1]
        shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
        return index + 1 + shift
    return float(index + 1)

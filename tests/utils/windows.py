"""How far audio decoded in windows is from the same chunk decoded whole, for tests and benchmarks.

- `log_mel_distance`: the RMS difference in dB between two log-mel spectrograms (80 bands, 25 ms
  Hann windows every 10 ms), averaged over the reference's voiced frames (within 40 dB of its loudest),
  so silence, where any difference is inaudible and the logarithm explodes, does not count.
- `join_jump`: the largest step between consecutive samples at the places where windows were joined.
  Compare it with `largest_jump` of the whole decode: a click at a join is a step larger than any the
  whole decode makes.
- `snr_db`: the signal-to-noise ratio of the windowed audio against the whole one.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

MEL_BANDS = 80
VOICED_RANGE_DB = 40.0
_FLOOR = 1e-10


def log_mel_distance(reference: np.ndarray, test: np.ndarray, rate: int) -> float:
    """Mean RMS log-mel difference in dB over the reference's voiced frames; the signals must have
    the same length."""
    if len(reference) != len(test):
        raise ValueError(f"lengths differ: {len(reference)} and {len(test)} samples")
    ref, other = _log_mel(reference, rate), _log_mel(test, rate)
    energy = ref.max(axis=1)
    voiced = energy > energy.max() - VOICED_RANGE_DB
    return float(np.sqrt(((ref[voiced] - other[voiced]) ** 2).mean(axis=1)).mean())


def snr_db(reference: np.ndarray, test: np.ndarray) -> float:
    noise = float(((reference.astype(np.float64) - test) ** 2).sum())
    signal = float((reference.astype(np.float64) ** 2).sum())
    return float("inf") if noise == 0 else 10 * float(np.log10(signal / noise))


def largest_jump(audio: np.ndarray) -> float:
    return float(np.abs(np.diff(audio.astype(np.float64))).max()) if len(audio) > 1 else 0.0


def join_jump(audio: np.ndarray, joins: Sequence[int], reach: int = 2) -> float:
    """The largest step between neighbouring samples within `reach` samples of each join (a join at
    sample n is between samples n - 1 and n)."""
    steps = np.abs(np.diff(audio.astype(np.float64)))
    worst = 0.0
    for join in joins:
        low, high = max(0, join - 1 - reach), min(len(steps), join - 1 + reach + 1)
        if low < high:
            worst = max(worst, float(steps[low:high].max()))
    return worst


def _log_mel(audio: np.ndarray, rate: int) -> np.ndarray:
    size, hop = round(0.025 * rate), round(0.010 * rate)
    n_fft = 1 << (size - 1).bit_length()
    padded = np.pad(audio.astype(np.float64), (size // 2, size // 2))
    count = 1 + max(0, (len(padded) - size) // hop)
    frames = np.lib.stride_tricks.sliding_window_view(padded, size)[::hop][:count]
    power = np.abs(np.fft.rfft(frames * np.hanning(size), n=n_fft, axis=1)) ** 2
    return 10 * np.log10(power @ _mel_filters(rate, n_fft).T + _FLOOR)


@cache
def _mel_filters(rate: int, n_fft: int) -> np.ndarray:
    """Triangular filters evenly spaced on the HTK mel scale from 0 Hz to rate / 2."""

    def mel(hz: np.ndarray) -> np.ndarray:
        return 2595 * np.log10(1 + hz / 700)

    def hz(m: np.ndarray) -> np.ndarray:
        return 700 * (10 ** (m / 2595) - 1)

    edges = hz(np.linspace(0, mel(np.array(rate / 2)), MEL_BANDS + 2))
    bins = np.fft.rfftfreq(n_fft, 1 / rate)
    lower, center, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - lower) / (center - lower)
    falling = (upper - bins) / (upper - center)
    return np.maximum(0, np.minimum(rising, falling))

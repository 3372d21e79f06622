"""From engine character timings to ElevenLabs alignment objects.

Rules every alignment here keeps: each character of its text appears once and in order; start times
never decrease; each end is at or after its start; all times lie within the audio they describe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Alignment:
    characters: tuple[str, ...]
    starts: tuple[float, ...]  # seconds
    ends: tuple[float, ...]

    @staticmethod
    def empty() -> Alignment:
        return Alignment((), (), ())

    def shifted(self, seconds: float) -> Alignment:
        return Alignment(
            self.characters,
            tuple(t + seconds for t in self.starts),
            tuple(t + seconds for t in self.ends),
        )

    def split(self, seconds: float) -> tuple[Alignment, Alignment]:
        """The characters that start before `seconds` (by more than a microsecond: times summed in
        floating point land a hair off the frame edges they belong to), and the rest."""
        count = sum(start < seconds - 1e-6 for start in self.starts)  # starts never decrease
        return (
            Alignment(self.characters[:count], self.starts[:count], self.ends[:count]),
            Alignment(self.characters[count:], self.starts[count:], self.ends[count:]),
        )

    def joined(self, other: Alignment) -> Alignment:
        return Alignment(
            self.characters + other.characters, self.starts + other.starts, self.ends + other.ends
        )


def settle(times: np.ndarray, duration: float) -> np.ndarray:
    """Fills characters the engine did not place (NaN) and makes the times obey the rules above.

    An unplaced run of characters shares the gap between its timed neighbours evenly.
    """
    times = np.array(times, dtype=np.float64, copy=True).reshape(-1, 2)
    count = len(times)
    placed = ~np.isnan(times).any(axis=1)
    index = 0
    while index < count:
        if placed[index]:
            index += 1
            continue
        run_end = index
        while run_end < count and not placed[run_end]:
            run_end += 1
        left = times[index - 1, 1] if index > 0 else 0.0
        right = times[run_end, 0] if run_end < count else duration
        edges = np.linspace(left, max(left, right), run_end - index + 1)
        times[index:run_end, 0] = edges[:-1]
        times[index:run_end, 1] = edges[1:]
        index = run_end
    times = np.clip(times, 0.0, duration)
    times[:, 0] = np.maximum.accumulate(times[:, 0]) if count else times[:, 0]
    times[:, 1] = np.maximum(times[:, 1], times[:, 0])
    return times


def to_original(normalized_times: np.ndarray, source: Sequence[int], original_length: int) -> np.ndarray:
    """Times for the original characters from the times of the normalized characters.

    `source[i]` is the original index of normalized character i (non-decreasing). An original
    character spans from the first to the last normalized character made from it; one that produced
    nothing (normalization dropped it) is left unplaced for `settle` to fill.
    """
    times = np.full((original_length, 2), np.nan)
    for normalized_index, original_index in enumerate(source):
        start, end = normalized_times[normalized_index]
        if np.isnan(times[original_index, 0]):
            times[original_index] = (start, end)
        else:
            times[original_index, 1] = end
    return times


def build(text: str, times: np.ndarray) -> Alignment:
    return Alignment(tuple(text), tuple(times[:, 0].tolist()), tuple(times[:, 1].tolist()))

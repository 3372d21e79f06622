"""How much audio each engine step decodes: the window sizes of a request.

A stream's first window is small, so its audio leaves after one prosody pass and one small decode;
each later window doubles, up to `largest`, because every window costs a little context on each side
and one scheduling step, so large windows use the machine best. A worker busy with one window cannot
start another request's, so `largest` also bounds how long a new request can wait for a worker.
Whole-file requests use the largest windows from the start: nobody hears their first window early.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

# Seconds of audio in a stream's first window, by optimize_streaming_latency (None and 0: the default).
_FIRST_BY_LATENCY = {0: 0.5, 1: 0.45, 2: 0.4, 3: 0.3, 4: 0.25}
LARGEST = 2.0


@dataclass(frozen=True)
class WindowPlan:
    first: float = _FIRST_BY_LATENCY[0]
    largest: float = LARGEST

    @staticmethod
    def for_latency(level: int | None) -> WindowPlan:
        """A stream's plan: a smaller first window as `optimize_streaming_latency` (0-4) rises."""
        return WindowPlan(first=_FIRST_BY_LATENCY[min(max(level or 0, 0), 4)])

    @staticmethod
    def whole() -> WindowPlan:
        return WindowPlan(first=LARGEST)

    def sizes(self) -> Iterator[float]:
        """Seconds of audio per window, without end."""
        size = min(self.first, self.largest)
        while True:
            yield size
            size = min(2 * size, self.largest)

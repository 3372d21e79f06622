"""When a request's listener will need its next audio: the deadline of its next step."""

from __future__ import annotations

import time
from dataclasses import dataclass

# A streamed window is due this long before its listener would run out of audio: the time to encode
# and send it, and to absorb a worker finishing another window first.
STREAM_MARGIN = 0.3


@dataclass
class Playback:
    """The audio made so far for one request, and when its listener started hearing it.

    A streamed request (`live`) starts playing when its first audio is made; its next window is due
    when playback reaches the end of what was made, less the margin. A whole-file request plays, for
    scheduling's sake, from its arrival: its windows come due at the pace of real time, so it finishes
    by arrival + its length when the machine is busy, and sooner when it is not. A first window is due
    at once, and so is the next window of a listener who has already run out (a socket waiting for
    text): its playback starts again.
    """

    live: bool
    margin: float = STREAM_MARGIN
    started: float | None = None
    made: float = 0.0  # seconds of audio made since `started`

    def __post_init__(self) -> None:
        if not self.live:
            self.started = time.monotonic()

    def deadline(self, now: float) -> float:
        if self.started is None:
            return now
        if self.live and now >= self.started + self.made:
            self.started, self.made = None, 0.0
            return now
        return self.started + self.made - (self.margin if self.live else 0.0)

    def advance(self, seconds: float, now: float) -> None:
        """Records `seconds` of new audio, made at `now`."""
        if self.started is None:
            self.started = now
        self.made += seconds

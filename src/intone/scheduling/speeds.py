"""How fast each engine works, measured on the steps it runs: engine seconds per second of audio."""

from __future__ import annotations

import threading

# Real-time factors with one thread per engine while every worker is busy, until steps are measured:
# saturated throughput on 2 cores was 4.5-5.2 s of Kokoro audio and 31-32 s of Piper audio per second
# (docs/benchmarks.md).
PRIORS = {"kokoro": 0.4, "piper": 0.065, "espeak": 0.01}
UNKNOWN_ENGINE = 0.5
# Two workers side by side each run this much slower than one alone (they share caches and memory
# bandwidth): Kokoro's saturated throughput on 2 cores against its speed alone on one
# (docs/benchmarks.md). A speed measured alone is scaled by it to stand for a busy machine.
CROWDING = 1.2
# Each measured step moves the estimate this far, weighted by the audio it made (a step of one second of
# audio moves it by this much).
_SMOOTHING = 0.05


class EngineSpeeds:
    def __init__(self) -> None:
        self._factors = dict(PRIORS)
        self._started: set[str] = set()  # engines measured at start-up
        self._lock = threading.Lock()

    def factor(self, engine: str) -> float:
        """Seconds of engine time one second of this engine's audio takes (its real-time factor)."""
        with self._lock:
            return self._factors.get(engine, UNKNOWN_ENGINE)

    def start_from(self, engine: str, busy: float, audio: float) -> None:
        """Replaces the prior with runs of the engine alone on one core: `busy` seconds for `audio`
        seconds of audio. Machines differ by twice in speed, so the server measures each engine as it
        starts. The fastest run counts: a model's first run pays one-time costs (several times its
        speed), and a speed too slow would never be corrected, since admission would then keep the
        workers from ever being busy enough to measure it."""
        if audio <= 0:
            return
        factor = CROWDING * busy / audio
        with self._lock:
            if engine in self._started:
                factor = min(factor, self._factors[engine])
            self._started.add(engine)
            self._factors[engine] = factor

    def record(self, engine: str, busy: float, audio: float) -> None:
        """A step of `engine` took `busy` seconds and made `audio` seconds of audio."""
        if audio <= 0:
            return
        weight = min(1.0, _SMOOTHING * audio)
        with self._lock:
            old = self._factors.get(engine, UNKNOWN_ENGINE)
            self._factors[engine] = old + weight * (busy / audio - old)

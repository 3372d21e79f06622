"""Voice previews: made once, shared by requests that arrive while it is being made, one at a time."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import numpy as np

from intone.engines.base import (
    EngineRequest,
    EngineResult,
    WholeDecoding,
    unit_char_times,
)
from intone.previews import Previews
from intone.scheduling.scheduler import Scheduler
from intone.speech.synthesizer import Synthesizer
from intone.speech.voices import get_voice

RATE = 24_000


class SlowEngine(WholeDecoding):
    """Takes a while per call and records how many calls overlap."""

    name = "kokoro"
    sample_rate = RATE
    needs_phonemes = True
    max_phonemes = 510

    def __init__(self) -> None:
        self.calls = 0
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def synthesize(self, request: EngineRequest) -> EngineResult:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        time.sleep(0.05)
        with self._lock:
            self.running -= 1
        spans = np.array([[0.0, 0.01]] * len(request.units))
        times = unit_char_times(len(request.text), request.units, spans)
        return EngineResult(np.full(RATE // 10, 0.1, np.float32), RATE, times)


class Engines:
    def __init__(self) -> None:
        self.engine = SlowEngine()

    def get(self, name: str) -> SlowEngine:
        return self.engine

    def loaded(self, name: str) -> bool:
        return True

    @staticmethod
    def languages() -> dict[str, frozenset[str]]:
        return {"kokoro": frozenset({"en"}), "piper": frozenset(), "espeak": frozenset({"en"})}

    @staticmethod
    def needs_phonemes(name: str) -> bool:
        return True


def _fetch(previews: Previews, names: list[str]) -> list[Path]:
    async def main() -> list[Path]:
        scheduler = Scheduler(4)
        try:
            return list(await asyncio.gather(*(previews.path(get_voice(n), scheduler) for n in names)))
        finally:
            scheduler.shutdown()

    return asyncio.run(main())


def test_a_preview_is_made_once_for_requests_that_arrive_together(tmp_path: Path):
    engines = Engines()
    previews = Previews(Synthesizer(engines), tmp_path)
    paths = _fetch(previews, ["George"] * 6)
    assert len(set(paths)) == 1 and paths[0].is_file() and paths[0].stat().st_size > 0
    calls = engines.engine.calls
    assert _fetch(previews, ["George"]) == paths[:1]
    assert engines.engine.calls == calls  # kept, not made again
    assert [path.name for path in tmp_path.iterdir()] == [paths[0].name]


def test_previews_of_different_voices_are_made_one_at_a_time(tmp_path: Path):
    engines = Engines()
    paths = _fetch(Previews(Synthesizer(engines), tmp_path), ["George", "Aria", "Brian", "Rachel"])
    assert len(set(paths)) == 4
    assert engines.engine.most_at_once == 1

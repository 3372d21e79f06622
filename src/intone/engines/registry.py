"""The engines a process uses, loaded once and only when first needed.

Loading Kokoro takes seconds and Piper a few more, so a command that only needs one engine should not
pay for the others. What each engine speaks is known without loading it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from intone.engines.base import Engine
from intone.engines.espeak import EspeakEngine
from intone.engines.kokoro import KokoroEngine
from intone.engines.piper import PiperEngine
from intone.engines.voice_packs import VoicePacks, default_dir

ENGINE_CLASSES: dict[str, type] = {"kokoro": KokoroEngine, "piper": PiperEngine, "espeak": EspeakEngine}


class EngineSet:
    def __init__(self, data_dir: Path, threads: int = 1, voices_dir: Path | None = None) -> None:
        packs = VoicePacks(voices_dir or default_dir())
        self._factories: dict[str, Callable[[], Engine]] = {
            "kokoro": lambda: KokoroEngine(data_dir, packs, threads=threads),
            "piper": lambda: PiperEngine(threads=threads),
            "espeak": EspeakEngine,
        }
        self._loaded: dict[str, Engine] = {}
        self._lock = threading.Lock()

    def loaded(self, name: str) -> bool:
        with self._lock:
            return name in self._loaded

    def get(self, name: str) -> Engine:
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = self._factories[name]()
            return self._loaded[name]

    @staticmethod
    def languages() -> dict[str, frozenset[str]]:
        return {name: cls.languages for name, cls in ENGINE_CLASSES.items()}

    @staticmethod
    def needs_phonemes(name: str) -> bool:
        return ENGINE_CLASSES[name].needs_phonemes

"""An engine set whose every engine is one small fake, for synthesizer tests that need no model."""

from __future__ import annotations

from typing import Any

ENGLISH = {"kokoro": frozenset({"en"}), "piper": frozenset({"en"}), "espeak": frozenset({"en"})}


class OneEngine:
    """Every engine name resolves to `engine`, which says itself whether it takes phonemes
    (`engine.needs_phonemes`)."""

    def __init__(self, engine: Any, languages: dict[str, frozenset[str]] = ENGLISH) -> None:
        self.engine = engine
        self._languages = languages

    def get(self, name: str) -> Any:
        return self.engine

    def loaded(self, name: str) -> bool:
        return True

    def languages(self) -> dict[str, frozenset[str]]:
        return self._languages

    def needs_phonemes(self, name: str) -> bool:
        return self.engine.needs_phonemes

"""Pronunciation dictionaries. None can be created yet, so every locator names one that is missing:
a clear error rather than a request spoken without the pronunciations it asked for."""

from __future__ import annotations

from collections.abc import Sequence

from intone.speech.errors import PronunciationDictionaryNotFound


def check_exist(dictionary_ids: Sequence[str]) -> None:
    if dictionary_ids:
        missing = dictionary_ids[0]
        raise PronunciationDictionaryNotFound(f"Pronunciation dictionary '{missing}' was not found.")

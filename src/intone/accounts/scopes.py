"""Scopes: which endpoints a key may reach. The names follow ElevenLabs' API key permissions."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    TEXT_TO_SPEECH = "text_to_speech"
    VOICES_READ = "voices_read"
    VOICES_WRITE = "voices_write"
    MODELS_READ = "models_read"
    USER_READ = "user_read"
    HISTORY_READ = "history_read"
    HISTORY_WRITE = "history_write"
    PRONUNCIATION_DICTIONARIES_READ = "pronunciation_dictionaries_read"
    PRONUNCIATION_DICTIONARIES_WRITE = "pronunciation_dictionaries_write"
    SPEECH_TO_TEXT = "speech_to_text"
    # Intone's own: managing the keys themselves. Never granted unless asked for by name.
    ADMIN = "admin"


# A key that may change something may also read it.
_IMPLIED_BY = {
    Scope.VOICES_READ: Scope.VOICES_WRITE,
    Scope.HISTORY_READ: Scope.HISTORY_WRITE,
    Scope.PRONUNCIATION_DICTIONARIES_READ: Scope.PRONUNCIATION_DICTIONARIES_WRITE,
}


def grants(scopes: frozenset[Scope], scope: Scope) -> bool:
    return scope in scopes or _IMPLIED_BY.get(scope) in scopes


# What a key gets when its creator names no scopes: everything but key management.
DEFAULT_SCOPES = frozenset(Scope) - {Scope.ADMIN}


def parse_scopes(names: list[str] | None) -> frozenset[Scope]:
    """The scopes named (the default set for None); raises ValueError naming the unknown ones."""
    if names is None:
        return DEFAULT_SCOPES
    known = {scope.value for scope in Scope}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return frozenset(Scope(name) for name in names)

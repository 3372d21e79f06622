"""Which strings the databases can hold."""

from __future__ import annotations


def storable(value: str) -> bool:
    """Whether the databases can hold the string: PostgreSQL refuses NUL, and neither takes half a UTF-16
    surrogate pair (which JSON can carry). No row holds any other, so lookups skip them rather than fail."""
    return "\0" not in value and not any("\ud800" <= char <= "\udfff" for char in value)

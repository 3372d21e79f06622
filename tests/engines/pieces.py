"""Hand-made engine input shared by the engine tests: (text, espeak-ng 1.52 en-us IPA) pieces."""

from __future__ import annotations

from intone.engines.base import Unit

# espeak runs "on the" together, so one piece covers both words.
BIRCH = (
    ("The", "ðə"),
    (" ", " "),
    ("birch", "bˈɜːtʃ"),
    (" ", " "),
    ("canoe", "kənˈuː"),
    (" ", " "),
    ("slid", "slˈɪd"),
    (" ", " "),
    ("on the", "ɔnðə"),
    (" ", " "),
    ("smooth", "smˈuːð"),
    (" ", " "),
    ("planks", "plˈæŋks"),
    (".", "."),
)

GLUE = (
    ("Glue", "ɡlˈuː"),
    (" ", " "),
    ("the", "ðə"),
    (" ", " "),
    ("sheet", "ʃˈiːt"),
    (" ", " "),
    ("to", "tə"),
    (" ", " "),
    ("the", "ðə"),
    (" ", " "),
    ("dark", "dˈɑːɹk"),
    (" ", " "),
    ("blue", "blˈuː"),
    (" ", " "),
    ("background", "bˈækɡɹaʊnd"),
    (".", "."),
)


def build(pieces: tuple[tuple[str, str], ...]) -> tuple[str, tuple[Unit, ...]]:
    """Text and units from (text, phonemes) pieces; pieces with no phonemes become gaps."""
    text = ""
    units: list[Unit] = []
    for piece, phonemes in pieces:
        if phonemes:
            units.append(Unit(phonemes, len(text), len(text) + len(piece)))
        text += piece
    return text, tuple(units)

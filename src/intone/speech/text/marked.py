"""Marked text: a request's text as pieces that say text, sound fixed phonemes, or pause.

Tags (`markup.py`) and pronunciation rules (`rules.py`) make the pieces; every piece keeps, for each of
its characters, the character of the request text it came from, so alignments still spell the request
text. `flatten` then joins the pieces into the one text the engines read: text pieces normalized, a fixed
pronunciation as the word it pronounces, a pause as its tag as written; the fixed phonemes and the pauses
are kept beside it as spans of that text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from intone.speech.text.normalize import NormalizedText


@dataclass(frozen=True)
class Say:
    """Text to speak; normalization may rewrite it."""

    text: str
    source: tuple[int, ...]  # for each character, its index in the request text


@dataclass(frozen=True)
class Sound:
    """Words with a fixed pronunciation."""

    phonemes: str  # IPA as espeak-ng writes it
    text: str  # the words as written: what alignments show and what an engine reading text says
    source: tuple[int, ...]


@dataclass(frozen=True)
class Pause:
    """Silence; its text is the tag as written."""

    seconds: float
    text: str
    source: tuple[int, ...]


Piece = Say | Sound | Pause
MarkedText = tuple[Piece, ...]


@dataclass(frozen=True)
class Fixed:
    """A span of the flattened text spoken with fixed phonemes."""

    start: int
    end: int
    phonemes: str


@dataclass(frozen=True)
class Silence:
    """A span of the flattened text that is a pause."""

    start: int
    end: int
    seconds: float


@dataclass(frozen=True)
class Marks:
    fixed: tuple[Fixed, ...] = ()
    pauses: tuple[Silence, ...] = ()

    def within(self, start: int, end: int) -> Marks:
        """The marks inside [start, end), counted from `start`."""
        fixed = (m for m in self.fixed if _inside(m, start, end))
        pauses = (m for m in self.pauses if _inside(m, start, end))
        return Marks(
            tuple(Fixed(m.start - start, m.end - start, m.phonemes) for m in fixed),
            tuple(Silence(m.start - start, m.end - start, m.seconds) for m in pauses),
        )


def _inside(mark: Fixed | Silence, start: int, end: int) -> bool:
    return start <= mark.start and mark.end <= end


def plain(text: str) -> MarkedText:
    """Text without markup: one piece saying all of it."""
    return (Say(text, tuple(range(len(text)))),) if text else ()


def written(pieces: MarkedText) -> str:
    """The words the pieces say, as written (pauses left out)."""
    return "".join(piece.text for piece in pieces if not isinstance(piece, Pause))


def silent(pieces: MarkedText) -> bool:
    """Whether the pieces neither say anything nor pause (only tags that make no sound)."""
    return not any(isinstance(piece, Pause) or piece.text.strip() for piece in pieces)


def flatten(
    original: str, pieces: MarkedText, say: Callable[[int, Say], NormalizedText]
) -> tuple[NormalizedText, Marks]:
    """The text the engines read and its marks. `say(index, piece)` normalizes the text piece at `index`;
    its map to the piece's characters is carried through to the request text."""
    text: list[str] = []
    source: list[int] = []
    fixed: list[Fixed] = []
    pauses: list[Silence] = []
    length = 0
    for index, piece in enumerate(pieces):
        if isinstance(piece, Say):
            normalized = say(index, piece)
            text.append(normalized.text)
            source.extend(piece.source[i] for i in normalized.source)
            length += len(normalized.text)
            continue
        text.append(piece.text)
        source.extend(piece.source)
        start, length = length, length + len(piece.text)
        if isinstance(piece, Sound):
            fixed.append(Fixed(start, length, piece.phonemes))
        else:
            pauses.append(Silence(start, length, piece.seconds))
    flat = NormalizedText(original=original, text="".join(text), source=tuple(source))
    return flat, Marks(tuple(fixed), tuple(pauses))

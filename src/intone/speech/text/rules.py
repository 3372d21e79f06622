"""Pronunciation rules applied to marked text.

Rules match the text pieces only (never a tag, nor a word a phoneme tag already pronounces). Where
matches of several rules overlap, the earlier rule wins; each rule's own matches are found left to right
without overlapping. An alias rule says its alias in place of the match, each character of the alias
mapped to the matched characters in order (as normalization maps an expansion); a phoneme rule gives the
match fixed phonemes, as a phoneme tag does.
"""

from __future__ import annotations

import bisect
import re
from functools import lru_cache

from intone.speech.errors import InvalidMarkup
from intone.speech.lexicon import AliasRule, Lexicon, PhonemeRule, Rule
from intone.speech.text.ipa import to_ipa
from intone.speech.text.marked import MarkedText, Piece, Say, Sound
from intone.speech.text.normalize import spread

_Match = tuple[int, int, Rule]


def apply_rules(pieces: MarkedText, lexicon: Lexicon) -> MarkedText:
    """The pieces with every rule match replaced; raises InvalidMarkup for a phoneme rule whose
    pronunciation cannot be read."""
    if not lexicon:
        return pieces
    applied: list[Piece] = []
    for piece in pieces:
        applied.extend(_applied(piece, lexicon) if isinstance(piece, Say) else (piece,))
    return tuple(applied)


def _applied(piece: Say, lexicon: Lexicon) -> list[Piece]:
    pieces: list[Piece] = []
    position = 0
    for start, end, rule in _matches(piece.text, lexicon):
        if start > position:
            pieces.append(Say(piece.text[position:start], piece.source[position:start]))
        replacement = _replacement(rule, piece.text[start:end], piece.source[start:end])
        if replacement is not None:
            pieces.append(replacement)
        position = end
    if position < len(piece.text):
        pieces.append(Say(piece.text[position:], piece.source[position:]))
    return pieces


def _matches(text: str, lexicon: Lexicon) -> list[_Match]:
    """Non-overlapping matches in text order; an earlier rule's match keeps its place."""
    taken: list[_Match] = []  # sorted by start
    for rule in lexicon:
        for found in _pattern(rule).finditer(text):
            start, end = found.span()
            at = bisect.bisect_right(taken, start, key=lambda match: match[0])
            free = (at == 0 or taken[at - 1][1] <= start) and (at == len(taken) or end <= taken[at][0])
            if start < end and free:
                taken.insert(at, (start, end, rule))
    return taken


@lru_cache(maxsize=1024)
def _pattern(rule: Rule) -> re.Pattern[str]:
    pattern = re.escape(rule.string_to_replace)
    if rule.word_boundaries:
        # Lookarounds rather than \b, so a rule for "C++" or ".NET" still matches as a whole word.
        pattern = rf"(?<!\w){pattern}(?!\w)"
    return re.compile(pattern, 0 if rule.case_sensitive else re.IGNORECASE)


def _replacement(rule: Rule, match: str, source: tuple[int, ...]) -> Piece | None:
    if isinstance(rule, PhonemeRule):
        return Sound(_phonemes(rule), match, source)
    assert isinstance(rule, AliasRule)
    if not rule.alias:
        return None  # an empty alias silences the match
    return Say(rule.alias, tuple(spread(source, len(rule.alias))))


def _phonemes(rule: PhonemeRule) -> str:
    try:
        return to_ipa(rule.phoneme, rule.alphabet)
    except ValueError as error:
        problem = f"has a phoneme that cannot be read: {error}"
        raise InvalidMarkup(f"The pronunciation rule for '{rule.string_to_replace}' {problem}.") from None

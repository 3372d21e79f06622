"""Text to phoneme units: espeak-ng IPA tied to the characters that produced it.

espeak phonemizes best a clause at a time (function words lose their stress, liaison applies), but it
runs short words together ("on the" -> "ɔnðə") and expands numbers into several words, so its output
words do not line up one-to-one with the input words. Where the counts differ, each input word is
phonemized alone and a small dynamic programme pairs groups of input words with groups of output words
by edit distance. A unit is then a word group, a space, or a punctuation mark.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from intone.engines.base import Unit
from intone.engines.espeak_ng import library

# A word: letters/digits, with inner apostrophes, hyphens or dots between digits ("don't", "3.5").
_TOKEN = re.compile(r"(?P<word>\w+(?:(?:['’\-]|(?<=\d)[.,:](?=\d))\w+)*)|(?P<space>\s+)|(?P<other>.)", re.S)
# Punctuation both Kokoro and Piper know, and the phoneme symbol used for others that mean a pause.
_PUNCTUATION = {
    ",": ",",
    ".": ".",
    "!": "!",
    "?": "?",
    ";": ";",
    ":": ":",
    "…": "…",
    "—": "—",
    "–": "—",
    "(": "(",
    ")": ")",
    '"': '"',
    "“": '"',
    "”": '"',
    "¿": "",
    "¡": "",
}
_CLAUSE_END = frozenset(',.!?;:…—–()"“”')
_STRESS = str.maketrans("", "", "ˈˌ ")
_MAX_GROUP_IN = 3
_MAX_GROUP_OUT = 6


@dataclass(frozen=True)
class _Word:
    start: int
    end: int
    text: str


def phonemize_units(text: str, espeak_voice: str) -> tuple[Unit, ...]:
    """Units covering `text` in order: word groups with IPA, spaces as " ", punctuation as itself."""
    units: list[Unit] = []
    clause: list[_Word] = []
    for match in _TOKEN.finditer(text):
        kind, start, end = match.lastgroup, match.start(), match.end()
        if kind == "word":
            clause.append(_Word(start, end, match.group()))
            continue
        if kind == "space":
            if clause:
                continue  # spaces inside a clause are emitted with its words
            _append_space(units, start, end)
            continue
        char = match.group()
        if char in _CLAUSE_END or not clause:
            units.extend(_clause_units(clause, espeak_voice, text))
            clause = []
        symbol = _PUNCTUATION.get(char)
        if symbol:
            units.append(Unit(symbol, start, end))
    units.extend(_clause_units(clause, espeak_voice, text))
    return tuple(units)


def _append_space(units: list[Unit], start: int, end: int) -> None:
    # One space phoneme for any run of whitespace, and none at the very start.
    if units and units[-1].phonemes != " ":
        units.append(Unit(" ", start, end))


def _clause_units(words: list[_Word], voice: str, text: str) -> Iterator[Unit]:
    if not words:
        return
    spoken = " ".join(word.text for word in words)
    output = " ".join(library().phonemize(voice, spoken)).split()
    groups = _pair_groups(words, output, voice)
    previous_end: int | None = None
    for (first, last), phonemes in groups:
        start, end = words[first].start, words[last].end
        if previous_end is not None and start > previous_end:
            yield Unit(" ", previous_end, start)
        yield Unit(phonemes, start, end)
        previous_end = end
    # Whitespace that follows the clause's last word becomes a space unit too.
    trailing = len(text[previous_end:]) - len(text[previous_end:].lstrip())
    if previous_end is not None and trailing:
        yield Unit(" ", previous_end, previous_end + trailing)


def _pair_groups(words: list[_Word], output: list[str], voice: str) -> list[tuple[tuple[int, int], str]]:
    """Pairs (first word index, last word index) with the IPA espeak produced for those words."""
    if len(output) == len(words):
        return [((index, index), ipa) for index, ipa in enumerate(output)]
    alone = [" ".join(library().phonemize(voice, word.text)).translate(_STRESS) for word in words]
    plain = [ipa.translate(_STRESS) for ipa in output]
    return _align(alone, plain, output)


def _align(alone: list[str], plain: list[str], output: list[str]) -> list[tuple[tuple[int, int], str]]:
    n, m = len(alone), len(plain)
    inf = float("inf")
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    back: list[list[tuple[int, int] | None]] = [[None] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            if cost[i][j] == inf:
                continue
            for size_in in range(1, _MAX_GROUP_IN + 1):
                if i + size_in > n:
                    break
                left = "".join(alone[i : i + size_in])
                # A word espeak says nothing for (a lone symbol) may pair with no output at all.
                sizes_out = range(0 if not left else 1, _MAX_GROUP_OUT + 1)
                for size_out in sizes_out:
                    if j + size_out > m:
                        break
                    right = "".join(plain[j : j + size_out])
                    step = cost[i][j] + Levenshtein.distance(left, right) + 0.1 * (size_in + size_out - 2)
                    if step < cost[i + size_in][j + size_out]:
                        cost[i + size_in][j + size_out] = step
                        back[i + size_in][j + size_out] = (size_in, size_out)
    if cost[n][m] == inf:
        # No pairing within the group limits: one unit for the whole clause keeps every phoneme.
        return [((0, n - 1), " ".join(output))]
    groups: list[tuple[tuple[int, int], str]] = []
    i, j = n, m
    while i > 0:
        size_in, size_out = back[i][j]  # type: ignore[misc]
        groups.append(((i - size_in, i - 1), " ".join(output[j - size_out : j])))
        i, j = i - size_in, j - size_out
    groups.reverse()
    return groups

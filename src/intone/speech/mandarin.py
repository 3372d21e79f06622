"""Mandarin text to phoneme units, the way Kokoro v1.0's Mandarin voices were trained to read it.

Kokoro's own pipeline reads Mandarin with misaki's Chinese front end: jieba cuts the text into words,
pypinyin gives each word's pinyin with tones, and misaki turns pinyin into Kokoro's IPA with tone
arrows, words separated by spaces. That front end returns one string for the whole text; this module
makes the same phonemes word by word, so every unit keeps the characters it came from (and character
timings stay exact): a word of Han characters, a number (read in Chinese, as cn2an writes it), a
punctuation mark, or a run of Latin text, which the English front end reads.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterator
from functools import cache

import cn2an
import jieba
from misaki.zh import ZHG2P

from intone.engines.base import Unit
from intone.speech.phonemes import phonemize_units

_RUNS = re.compile(
    r"(?P<han>[\u3400-\u4dbf\u4e00-\u9fff]+)"
    r"|(?P<number>[0-9０-９]+(?:[.．][0-9０-９]+)?)"
    r"|(?P<latin>[A-Za-z][A-Za-z'\-]*(?:\s+[A-Za-z][A-Za-z'\-]*)*)"
    r"|(?P<space>\s+)"
    r"|(?P<other>.)",
    re.S,
)
# Full-width and Chinese punctuation, as the ASCII marks Kokoro knows (misaki maps them the same way).
_PUNCTUATION = {
    "，": ",",
    "、": ",",
    "。": ".",
    "．": ".",
    "！": "!",
    "？": "?",
    "：": ":",
    "；": ";",
    "（": "(",
    "）": ")",
    "“": '"',
    "”": '"',
    "「": '"',
    "」": '"',
    "《": '"',
    "》": '"',
    "…": "…",
    "—": "—",
    ",": ",",
    ".": ".",
    "!": "!",
    "?": "?",
    ":": ":",
    ";": ";",
}
_MARKS = frozenset(_PUNCTUATION.values())
_DIGITS = "零一二三四五六七八九"
# Digits of the longest number read as a quantity; longer ones (phone numbers, IDs) are codes.
_LONGEST_QUANTITY = 10
# misaki drops this combining mark (the non-syllabic sign in "au̯"); Kokoro's vocabulary lacks it.
_NON_SYLLABIC = "\u032f"


@cache
def _segmenter() -> jieba.Tokenizer:
    """jieba's tokenizer, loaded once (it builds its dictionary on first use, about half a second)."""
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def mandarin_units(text: str) -> tuple[Unit, ...]:
    """Units covering `text` in order: words with Kokoro's Mandarin IPA, spaces, punctuation."""
    units: list[Unit] = []
    for match in _RUNS.finditer(text):
        kind, start, end = match.lastgroup, match.start(), match.end()
        if kind == "han":
            units.extend(_words(match.group(), start))
        elif kind == "number":
            units.append(Unit(_number_ipa(match.group()), start, end))
        elif kind == "latin":
            # English words inside Mandarin text are read as English.
            units.extend(_shifted(phonemize_units(match.group(), "en-us"), start))
        elif kind == "space":
            units.append(Unit(" ", start, end))
        elif symbol := _PUNCTUATION.get(match.group()):
            units.append(Unit(symbol, start, end))
    return tuple(_spaced(units))


def _words(run: str, offset: int) -> Iterator[Unit]:
    position = offset
    for word in _segmenter().lcut(run, HMM=True):
        yield Unit(_ipa(word), position, position + len(word))
        position += len(word)


def _number_ipa(number: str) -> str:
    """A number read in Chinese; one too long to read as a quantity (an ID, a phone number) is read
    digit by digit, as people read those."""
    number = unicodedata.normalize("NFKC", number)
    try:
        words = cn2an.an2cn(number) if len(number) <= _LONGEST_QUANTITY else None
    except ValueError:
        words = None
    if words is None:
        words = "".join(_DIGITS[int(digit)] if digit.isdigit() else "点" for digit in number)
    return _ipa(words)


def _ipa(word: str) -> str:
    return ZHG2P.word2ipa(word).replace(_NON_SYLLABIC, "")


def _spaced(units: list[Unit]) -> Iterator[Unit]:
    """Words and numbers apart and a space after each mark, as misaki writes them; no space before a
    mark, none doubled, none leading."""
    previous: Unit | None = None
    for unit in units:
        is_space = unit.phonemes == " "
        if previous is not None and previous.phonemes != " ":
            if not is_space and unit.phonemes not in _MARKS:
                yield Unit(" ", unit.start, unit.start)
        elif is_space:
            continue  # leading or doubled
        yield unit
        previous = unit


def _shifted(units: tuple[Unit, ...], offset: int) -> Iterator[Unit]:
    for unit in units:
        yield Unit(unit.phonemes, unit.start + offset, unit.end + offset)

"""CMU arpabet (as CMUdict writes it: "T AH0 M EY1 T OW2") to IPA as espeak-ng writes American English,
so that Kokoro and Piper, which learnt espeak-ng's IPA, hear the symbols they know.

A vowel's stress digit becomes espeak-ng's stress mark just before the vowel (1: "ˈ", 2: "ˌ", 0 or no
digit: none); unstressed AH and ER are the reduced vowels "ə" and "ɚ".
"""

from __future__ import annotations

import re

_VOWELS = {
    "AA": "ɑː",
    "AE": "æ",
    "AH": "ʌ",
    "AO": "ɔː",
    "AW": "aʊ",
    "AY": "aɪ",
    "EH": "ɛ",
    "ER": "ɜː",
    "EY": "eɪ",
    "IH": "ɪ",
    "IY": "iː",
    "OW": "oʊ",
    "OY": "ɔɪ",
    "UH": "ʊ",
    "UW": "uː",
}
_REDUCED = {"AH": "ə", "ER": "ɚ"}  # with stress 0
_CONSONANTS = {
    "B": "b",
    "CH": "tʃ",
    "D": "d",
    "DH": "ð",
    "F": "f",
    "G": "ɡ",
    "HH": "h",
    "JH": "dʒ",
    "K": "k",
    "L": "l",
    "M": "m",
    "N": "n",
    "NG": "ŋ",
    "P": "p",
    "R": "ɹ",
    "S": "s",
    "SH": "ʃ",
    "T": "t",
    "TH": "θ",
    "V": "v",
    "W": "w",
    "Y": "j",
    "Z": "z",
    "ZH": "ʒ",
}
_STRESS_MARKS = {"1": "ˈ", "2": "ˌ", "0": ""}
_SYMBOL = re.compile(r"(?P<base>[A-Za-z]+)(?P<stress>[012])?")


def arpabet_to_ipa(phonemes: str) -> str:
    """IPA for space-separated arpabet symbols; raises ValueError naming the first symbol that is not
    arpabet (or a consonant with a stress digit)."""
    symbols = phonemes.split()
    if not symbols:
        raise ValueError("it holds no arpabet symbols")
    return "".join(_symbol_ipa(symbol) for symbol in symbols)


def _symbol_ipa(symbol: str) -> str:
    match = _SYMBOL.fullmatch(symbol)
    base = match["base"].upper() if match else ""
    stress = match["stress"] if match else None
    if base in _VOWELS:
        vowel = _REDUCED.get(base, _VOWELS[base]) if stress == "0" else _VOWELS[base]
        return _STRESS_MARKS[stress or "0"] + vowel
    if base in _CONSONANTS and stress is None:
        return _CONSONANTS[base]
    raise ValueError(f"'{symbol}' is not a CMU arpabet phoneme")

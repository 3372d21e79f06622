"""Pronunciation rules, as pronunciation dictionaries hold them and as the speech layer applies them.

An alias rule speaks other text in place of a match; a phoneme rule gives the match's pronunciation.
Both match `string_to_replace` in the request text, case-sensitively and only as whole words unless
their flags say otherwise (ElevenLabs' defaults when a rule leaves them unset).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Alphabet = Literal["ipa", "cmu-arpabet"]


@dataclass(frozen=True)
class AliasRule:
    string_to_replace: str
    alias: str
    case_sensitive: bool = True
    word_boundaries: bool = True


@dataclass(frozen=True)
class PhonemeRule:
    string_to_replace: str
    phoneme: str
    alphabet: Alphabet
    case_sensitive: bool = True
    word_boundaries: bool = True


Rule = AliasRule | PhonemeRule
# The rules of a request's dictionaries, in locator order; within it, the first rule that matches wins.
Lexicon = tuple[Rule, ...]

"""Pronunciations written by people (IPA or CMU arpabet) made into the IPA the neural engines speak.

Kokoro and Piper learnt the IPA espeak-ng writes; each drops symbols it does not know. So common ways
of writing IPA that espeak-ng does not use are rewritten to its symbols (an ASCII "g" would otherwise be
dropped by both, "ʧ" by Piper), and marks neither engine knows or that would read as punctuation
(syllable dots, tie bars, slashes, most diacritics) are removed.
"""

from __future__ import annotations

import re
import unicodedata

from intone.speech.lexicon import Alphabet
from intone.speech.text.arpabet import arpabet_to_ipa

# Written IPA -> espeak-ng's symbols (the left side is in neither engine's vocabulary, or means
# something else there: ":" and "'" are punctuation to Kokoro).
_SUBSTITUTES = str.maketrans(
    {
        "g": "ɡ",
        "'": "ˈ",
        ":": "ː",
        "ʧ": "tʃ",
        "ʤ": "dʒ",
        "ʦ": "ts",
        "ʣ": "dz",
        "ʨ": "tɕ",
        "ʥ": "dʑ",
        "ɝ": "ɜː",
        "ɫ": "l",
        "ɬ": "l",
        "ɭ": "l",
        "ʍ": "w",
        "ɦ": "h",
        "ɱ": "m",
        "ʉ": "u",
        "ɵ": "o",
        "ɘ": "ə",
        "ɞ": "ɜ",
        "ε": "ɛ",
        "ʀ": "ʁ",
        "ʏ": "y",
        "ɶ": "œ",
    }
)
_NASAL = "\u0303"  # the one combining mark Kokoro and Piper both know (French "ɑ̃")
# A stress mark written before a syllable's onset ("bəˈnænəz") moves to just before its vowel, where
# espeak-ng writes it ("bənˈænəz"): Kokoro misplaces the stress otherwise.
_VOWELS = "aeiouyæɐɑɒɔəɘɚɛɜɞɤɨɪɯɵøœɶʉʊʌʏᵻ"
_STRESS_BEFORE_ONSET = re.compile(rf"(?P<mark>[ˈˌ])(?P<onset>[^{_VOWELS}ˈˌ\s]+)(?=[{_VOWELS}])")
# In English, "r" is written for the approximant espeak-ng writes "ɹ"; the engines' English voices
# never heard the trill "r".
_LANGUAGE_SUBSTITUTES = {"en": str.maketrans({"r": "ɹ"})}


def to_ipa(phonemes: str, alphabet: Alphabet) -> str:
    """The pronunciation as espeak-ng style IPA; raises ValueError when nothing speakable is left or
    an arpabet symbol is unknown."""
    ipa = arpabet_to_ipa(phonemes) if alphabet == "cmu-arpabet" else _clean(phonemes)
    if not ipa.strip():
        raise ValueError("it holds no phonemes")
    return ipa


def for_language(ipa: str, language: str) -> str:
    """`ipa` with the language's own readings of ambiguous symbols."""
    table = _LANGUAGE_SUBSTITUTES.get(language.split("-")[0])
    return ipa.translate(table) if table else ipa


def _clean(ipa: str) -> str:
    text = unicodedata.normalize("NFC", ipa).translate(_SUBSTITUTES)
    kept = "".join(char for char in text if _kept(char))
    return _STRESS_BEFORE_ONSET.sub(r"\g<onset>\g<mark>", " ".join(kept.split()))


def _kept(char: str) -> bool:
    # Letters include the stress and length marks (modifier letters, "Lm").
    return char.isspace() or char == _NASAL or unicodedata.category(char).startswith("L")

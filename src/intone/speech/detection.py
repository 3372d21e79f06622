"""Which language a text is in, when a request does not say (as ElevenLabs' multilingual models do).

py3langid (a small offline n-gram classifier, deterministic) ranks the languages the model can speak
here. Short texts are often ambiguous ("Ready." scores Polish nearly as high as English), so a language
other than English is taken only when it wins clearly; otherwise the caller falls back to English and
says so.
"""

from __future__ import annotations

import copy
from functools import cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

# The share of probability (among the candidate languages) the winner needs. Measured on short phrases:
# clear texts score above 0.6 ("Gracias" 0.51, "Hola, ¿cómo estás?" 0.94), ambiguous ones below 0.4
# ("Pasta la vista baby" 0.38, "Ready." 0.19).
CONFIDENCE = 0.5
# The classifier's codes where the API's differ.
_TO_API = {"tl": "fil"}
_FROM_API = {api: own for own, api in _TO_API.items()}


@cache
def _identifier() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@cache
def _known() -> frozenset[str]:
    return frozenset(_TO_API.get(code, code) for code in _identifier().labels)


@cache
def _identifier_for(candidates: tuple[str, ...]) -> LanguageIdentifier:
    """An identifier restricted to `candidates` (a model speaks a fixed set, so there are few)."""
    restricted = copy.copy(_identifier())
    restricted.set_languages([_FROM_API.get(code, code) for code in candidates])
    return restricted


def detect(text: str, candidates: tuple[str, ...]) -> str | None:
    """The language of `text` among `candidates` (API codes), or None when no candidate wins clearly."""
    usable = [code for code in candidates if code in _known()]
    if len(usable) < 2:
        return usable[0] if usable else None
    code, probability = _identifier_for(tuple(sorted(usable))).classify(text)
    if probability < CONFIDENCE:
        return None
    return _TO_API.get(code, code)

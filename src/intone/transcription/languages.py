"""Language codes between the API and Whisper.

Requests may name a language by its ISO 639-1 or ISO 639-3 code ("en" or "eng"); responses name it by
its ISO 639-3 code, as ElevenLabs does. Whisper uses 639-1 codes, a 639-3 code where none exists
("haw", "yue"), and "jw" for Javanese (639-1 "jv").
"""

from __future__ import annotations

import pycountry

_TO_WHISPER = {"jv": "jw"}
_FROM_WHISPER = {whisper: iso for iso, whisper in _TO_WHISPER.items()}


def whisper_code(code: str) -> str | None:
    """Whisper's code for an ISO 639-1 or 639-3 code (any case); None when it names no language."""
    code = code.strip().lower()
    if len(code) == 2:
        language = pycountry.languages.get(alpha_2=code)
    elif len(code) == 3:
        language = pycountry.languages.get(alpha_3=code) or pycountry.languages.get(bibliographic=code)
    else:
        return None
    if language is None:
        return None
    two = getattr(language, "alpha_2", None)
    return _TO_WHISPER.get(two, two) if two else language.alpha_3


def iso639_3(whisper: str) -> str:
    """The ISO 639-3 code of a language Whisper names."""
    code = _FROM_WHISPER.get(whisper, whisper)
    language = pycountry.languages.get(alpha_2=code) if len(code) == 2 else None
    return language.alpha_3 if language is not None else code

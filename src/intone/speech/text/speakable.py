"""Whether a text has anything to speak.

Only letters and digits are ever said: spaces, punctuation, symbols, emoji, invisible formatting
characters (zero-width spaces and joiners) and control characters (NUL included) make no sound on
their own. A text of nothing but those would make empty audio, so it is refused like an empty text,
before anything is charged. Said within words, the same characters are simply read over.
"""

from __future__ import annotations

import unicodedata

from intone.speech.errors import TextEmpty

# Unicode major categories that can be spoken: letters (L*) and numbers (N*, "½" and "²" included).
_SPOKEN_CATEGORIES = frozenset("LN")


def speakable(text: str) -> bool:
    return any(unicodedata.category(char)[0] in _SPOKEN_CATEGORIES for char in text)


def require_speakable(text: str) -> None:
    """Raises TextEmpty (400 text_empty) for a text with nothing to speak."""
    if not speakable(text):
        raise TextEmpty(
            "The text has nothing to speak: send at least one letter or digit "
            "(spaces, punctuation, emoji, invisible and control characters alone make no sound)."
        )

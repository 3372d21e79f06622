"""Deciding when text streamed into the stream-input WebSocket is ready to synthesize.

Clients send text piece by piece, often token by token from an LLM. Synthesizing every piece would
sound choppy, so, like ElevenLabs, the text is buffered and handed out in segments:

- The generation schedule (`chunk_length_schedule`): the first segment goes once the buffer holds
  `schedule[0]` characters, the next once it holds `schedule[1]` again, and so on; the last value
  repeats. A segment ends at a word boundary: the first one at or beyond that length, or, when the
  buffer ends mid-word, the last one in the buffer. So one large piece yields several segments of
  about the scheduled lengths, and token-by-token text yields each segment as soon as it is due.
- `try_trigger_generation`: hands out all complete words at once, but only if the buffer holds at
  least `TRIGGER_MINIMUM` characters, since very short inputs synthesize poorly.
- `flush` (and the end of the stream): hands out everything, a trailing partial word included.
- `auto_mode`: the schedule is ignored entirely; each completed sentence goes as soon as its end is
  certain, and text without a sentence end waits for a trigger or flush.

With markup on (`syntax`: break and phoneme tags when the socket's `enable_ssml_parsing` is true,
eleven_v3's audio tags on that model), a segment never ends inside a tag: a whole tag (a phoneme tag
with its word and closing tag) stays in one segment, and a tag that has started but not yet arrived
whole ("<break ti", "[laug") is held back, with all after it, until it does. A flush or the end of the
stream hands it out as it is, to be read as the HTTP endpoints read text: an unfinished break or
phoneme tag is then an error (`invalid_markup`), an unclosed bracket ordinary text. A tag still
unfinished after `markup.MAX_TAG` characters (a bracket after `markup.MAX_AUDIO_TAG`) is no longer
waited for.

A segment never ends inside a word (the text after the last whitespace may be the start of a word
whose rest is yet to come) and is never only whitespace. The only exception is the hard cap
`MAX_PENDING`: a buffer longer than that with no word boundary in it is cut there anyway, so memory
stays bounded, but still between grapheme clusters. The segments handed out, followed by the final
flush, are exactly the text added, except that whitespace standing alone is dropped: a buffer holding
only whitespace when flushed, or a run of whitespace longer than the cap.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from numbers import Real

from intone.speech.text.markup import Syntax, held_back

DEFAULT_SCHEDULE = (120, 160, 250, 290)
SCHEDULE_RANGE = (50, 500)
# The smallest chunk ElevenLabs lets a schedule ask for, taken as the smallest that still synthesizes
# well; with the Python SDK's schedule [50] a trigger then never yields shorter segments than it would.
TRIGGER_MINIMUM = SCHEDULE_RANGE[0]
# Far above the largest scheduled chunk, so the cap only matters for text without word boundaries.
MAX_PENDING = 2000

_WORD_END = re.compile(r"\S\s+")  # a segment ends after a word and its whole whitespace run
_CLOSERS = "\"'”’)\\]」』）】》"
# Western sentence ends are only certain once whitespace follows ("3." may become "3.5"); CJK ones
# once any character other than more punctuation or a closing quote follows.
_SENTENCE_END = re.compile(rf"[.!?…]+[{_CLOSERS}]*\s+|[。！？]+[{_CLOSERS}]*(?=[^{_CLOSERS}。！？])\s*")
_ZWJ, _ZWNJ = "\u200d", "\u200c"


class InvalidSchedule(ValueError):
    """A `chunk_length_schedule` that cannot be used."""


def check_schedule(values: Sequence[object]) -> tuple[int, ...]:
    """The schedule as whole character counts, rounded up (a fractional minimum needs the next whole
    character); raises InvalidSchedule naming the first bad item."""
    low, high = SCHEDULE_RANGE
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise InvalidSchedule(f"chunk_length_schedule must be a list of numbers, not {values!r}")
    if not values:
        raise InvalidSchedule("chunk_length_schedule must not be empty")
    lengths: list[int] = []
    for index, value in enumerate(values):
        # bool is an int subclass but never meant as a length; NaN fails the range test
        if isinstance(value, bool) or not isinstance(value, Real) or not low <= value <= high:
            raise InvalidSchedule(
                f"chunk_length_schedule[{index}] is {value!r}; "
                f"every item must be a number from {low} to {high}"
            )
        lengths.append(math.ceil(value))
    return tuple(lengths)


class TextBuffer:
    """Streamed text waiting to be synthesized; see the module docstring for when it is handed out."""

    def __init__(
        self,
        schedule: Sequence[int] = DEFAULT_SCHEDULE,
        auto_mode: bool = False,
        syntax: Syntax | None = None,
    ) -> None:
        self._schedule = check_schedule(schedule)
        self._auto_mode = auto_mode
        self._syntax = syntax  # None: no markup, tags are text
        self._pending = ""
        self._handed_out = 0  # segments since the start or the last flush: the position in the schedule

    @property
    def pending(self) -> str:
        """The text buffered and not yet handed out."""
        return self._pending

    def add(self, text: str) -> list[str]:
        """Append `text`; return the segments now ready to synthesize, in order (possibly none)."""
        self._pending += text
        segments: list[str] = []
        while (cut := self._next_cut()) is not None:
            segments += self._take(cut)
        return segments

    def trigger(self) -> list[str]:
        """try_trigger_generation: hand out every complete word now, overriding the schedule, if the
        buffer holds at least TRIGGER_MINIMUM characters."""
        if len(self._pending) < TRIGGER_MINIMUM:
            return []
        cut = self._outside_tags(_last_word_end(self._pending, len(self._pending)))
        return self._take(cut) if cut else []

    def flush(self) -> str | None:
        """Everything buffered, a partial word included, or None if that is only whitespace (which is
        dropped). The buffer empties and the schedule starts over: a flush ends an utterance while the
        connection stays open, and the next utterance deserves the same quick first segment."""
        text, self._pending, self._handed_out = self._pending, "", 0
        return text if text.strip() else None

    def _next_cut(self) -> int | None:
        text = self._pending
        cut = None
        if self._auto_mode:
            if match := _SENTENCE_END.search(text):
                cut = match.end()
        else:
            threshold = self._schedule[min(self._handed_out, len(self._schedule) - 1)]
            if len(text) >= threshold:
                cut = _scheduled_cut(text, threshold)
        if len(text) > MAX_PENDING and (cut is None or cut > MAX_PENDING):
            if text[:MAX_PENDING].isspace():
                return len(text) - len(text.lstrip())  # whitespace only: _take drops it
            cut = _last_word_end(text, MAX_PENDING) or _grapheme_cut(text, MAX_PENDING)
        return self._outside_tags(cut)

    def _outside_tags(self, cut: int | None) -> int | None:
        """`cut`, moved out of any tag: past a whole tag to the next word boundary, or else back to
        the tag's start (before a tag still arriving too); None when the buffer starts with the tag
        (it waits, as a word does, for what follows it)."""
        if cut is None or self._syntax is None:
            return cut
        for start, end in held_back(self._pending, self._syntax):  # in order, not overlapping
            if not start < cut or (end is not None and end <= cut):
                continue
            after = None if end is None else _next_word_end(self._pending, end)
            if after is None:
                return start or None
            cut = after  # which may fall in a tag right after this one: the next spans are checked
        return cut

    def _take(self, cut: int) -> list[str]:
        segment, self._pending = self._pending[:cut], self._pending[cut:]
        if segment.isspace():
            return []
        self._handed_out += 1
        return [segment]


def _scheduled_cut(text: str, threshold: int) -> int | None:
    """The first word boundary at or beyond `threshold`, else the last one (the text ends mid-word)."""
    last = None
    for match in _WORD_END.finditer(text):
        last = match.end()
        if last >= threshold:
            break
    return last


def _next_word_end(text: str, position: int) -> int | None:
    """The first word boundary at or after `position`, if any."""
    match = _WORD_END.search(text, max(position - 1, 0))
    return match.end() if match else None


def _last_word_end(text: str, limit: int) -> int | None:
    """The last word boundary within text[:limit], if any."""
    last = None
    for match in _WORD_END.finditer(text, 0, limit):
        last = match.end()
    return last


def _grapheme_cut(text: str, limit: int) -> int:
    """The last position at or before `limit` that splits no grapheme cluster (emoji sequence, base
    and combining marks, surrogate pair); `limit` itself if one cluster is longer than that."""
    cut = limit
    while cut > 0 and _joined(text, cut):
        cut -= 1
    return cut or limit


def _joined(text: str, i: int) -> bool:
    """Whether text[i - 1] and text[i] belong to the same grapheme cluster."""
    before, after = text[i - 1], text[i]
    if "\ud800" <= before <= "\udbff" and "\udc00" <= after <= "\udfff":
        return True
    if before == _ZWJ or after in (_ZWJ, _ZWNJ) or unicodedata.category(after) in ("Mn", "Mc", "Me"):
        return True
    if "\U0001f3fb" <= after <= "\U0001f3ff" or "\U000e0020" <= after <= "\U000e007f":
        return True  # emoji skin tone modifiers and tag characters (subdivision flags)
    if _regional(before) and _regional(after):
        run = 0  # flags are pairs of regional indicators: joined if `before` opens a pair
        while run < i and _regional(text[i - 1 - run]):
            run += 1
        return run % 2 == 1
    return False


def _regional(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"

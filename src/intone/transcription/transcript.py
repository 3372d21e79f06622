"""A transcript: what was said, when, and how sure the model was, independent of any wire shape."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

WordKind = Literal["word", "spacing", "audio_event"]


@dataclass(frozen=True)
class Word:
    """A word, the space between two words, or a sound that is not speech (e.g. "(laughs)")."""

    text: str
    start: float  # seconds from the start of the recording
    end: float
    kind: WordKind
    logprob: float  # log of the model's probability for it; 0 for spacing


@dataclass(frozen=True)
class Segment:
    """A stretch of speech the model decoded as one sentence or phrase; `words` are its items."""

    text: str
    start: float
    end: float
    words: tuple[Word, ...]


@dataclass(frozen=True)
class Transcript:
    language: str  # ISO 639-1 where one exists (what Whisper speaks), e.g. "en"
    language_probability: float  # 1.0 when the language was given
    duration: float  # seconds of audio transcribed
    segments: tuple[Segment, ...]

    @cached_property
    def text(self) -> str:
        return "".join(word.text for word in self.words)

    @cached_property
    def words(self) -> tuple[Word, ...]:
        """Every item in order, with a spacing between segments as between words."""
        items: list[Word] = []
        for segment in self.segments:
            if items and segment.words:
                previous, following = items[-1], segment.words[0]
                items.append(Word(" ", previous.end, following.start, "spacing", 0.0))
            items.extend(segment.words)
        return tuple(items)

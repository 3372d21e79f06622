"""Whisper's segments into a transcript: spacing between words, audio events, times kept in order."""

from __future__ import annotations

from dataclasses import dataclass

from intone.engines.whisper import Detected
from intone.transcription.transcriber import assemble


@dataclass
class _Word:  # faster-whisper's Word, as far as assembly reads it
    word: str
    start: float
    end: float
    probability: float


@dataclass
class _Segment:
    words: list[_Word]


def _transcript(*segments: list[_Word], events: bool = True, duration: float = 10.0):
    return assemble(Detected("en", 0.9, duration), [_Segment(words) for words in segments], events)


def test_words_alternate_with_spacing_and_join_to_the_text():
    transcript = _transcript(
        [_Word(" Hello", 0.0, 0.4, 0.9), _Word(" there.", 0.5, 0.9, 0.8)],
        [_Word(" Bye.", 1.5, 1.9, 1.0)],
    )
    assert [(w.text, w.kind) for w in transcript.words] == [
        ("Hello", "word"),
        (" ", "spacing"),
        ("there.", "word"),
        (" ", "spacing"),
        ("Bye.", "word"),
    ]
    assert transcript.text == "Hello there. Bye."
    assert [(w.start, w.end) for w in transcript.words] == [
        (0.0, 0.4),
        (0.4, 0.5),
        (0.5, 0.9),
        (0.9, 1.5),
        (1.5, 1.9),
    ]
    assert transcript.words[0].logprob < 0
    assert transcript.words[4].logprob == 0


def test_times_never_decrease_and_stay_within_the_audio():
    transcript = _transcript([_Word(" a", 0.0, 0.6, 0.9), _Word(" b", 0.5, 2.6, 0.9)], duration=2.0)
    times = [t for word in transcript.words for t in (word.start, word.end)]
    assert times == sorted(times)
    assert max(times) == 2.0


def test_a_bracketed_sound_split_over_tokens_is_one_audio_event_or_dropped():
    words = [_Word(" So", 0.0, 0.3, 0.9), _Word(" (laugh", 0.4, 0.6, 0.5), _Word("ing)", 0.6, 0.9, 0.5)]
    kept = _transcript(words)
    assert [(w.text, w.kind) for w in kept.words if w.kind != "spacing"] == [
        ("So", "word"),
        ("(laughing)", "audio_event"),
    ]
    assert kept.words[-1].start == 0.4 and kept.words[-1].end == 0.9
    dropped = _transcript(words, events=False)
    assert dropped.text == "So"

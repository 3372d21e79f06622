"""The one interface every speech engine implements.

An engine turns one chunk of text in one language into float32 PCM and the time span of every
character of that chunk. Neural engines work from phonemes that the front end (`intone.speech.phonemes`)
has already grouped into units tied to character spans; formant engines may read the text itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Unit:
    """A piece of the chunk's text and the phonemes that speak it.

    A unit is a word (or a few words espeak ran together), a space, or a punctuation mark.
    `start`/`end` index into `EngineRequest.text`; units are in order and do not overlap, but may leave
    gaps (characters nobody pronounces), which the alignment step fills.
    """

    phonemes: str
    start: int
    end: int


@dataclass(frozen=True)
class EngineRequest:
    text: str
    language: str
    voice: VoiceRealization
    units: tuple[Unit, ...] = ()
    # The voice's own variety of the language ("en-GB"), when it speaks its own; None: the usual one.
    locale: str | None = None
    speed: float = 1.0
    seed: int | None = None
    # 0..1; engines with sampling noise map it to less variation as it rises, others ignore it.
    stability: float = 0.5


@dataclass(frozen=True)
class VoiceRealization:
    """How one Intone voice sounds on one engine.

    `packs` is a weighted blend of Kokoro voice packs, `variant` an espeak-ng voice variant, `pitch`
    a 0..100 espeak pitch; `tempo` a per-voice speed factor that multiplies the request's speed; `gain`
    a per-voice level factor that brings the voice to the engine's common loudness. Each engine reads
    only the fields it understands.
    """

    packs: tuple[tuple[str, float], ...] = ()
    variant: str = ""
    pitch: int = 50
    tempo: float = 1.0
    gain: float = 1.0


@dataclass(frozen=True)
class EngineResult:
    audio: np.ndarray  # float32, mono, in [-1, 1]
    sample_rate: int
    # One (start, end) pair in seconds per character of the request text; (nan, nan) where the engine
    # could not place a character (the alignment step interpolates those).
    char_times: np.ndarray


class Engine(Protocol):
    name: str
    sample_rate: int
    # Longest phoneme string one call accepts; the synthesizer splits chunks to fit.
    max_phonemes: int
    # Whether the engine needs `EngineRequest.units` (phonemes from the front end).
    needs_phonemes: bool
    # The language codes (ISO 639-1 where one exists) the engine really speaks; known without loading.
    languages: frozenset[str]

    def synthesize(self, request: EngineRequest) -> EngineResult: ...


def unit_char_times(text_length: int, units: tuple[Unit, ...], unit_spans: np.ndarray) -> np.ndarray:
    """Spread each unit's time span (seconds, shape (n_units, 2)) evenly over the characters it covers."""
    times = np.full((text_length, 2), np.nan, dtype=np.float64)
    for unit, (begin, end) in zip(units, unit_spans, strict=True):
        count = unit.end - unit.start
        if count <= 0:
            continue
        edges = np.linspace(begin, end, count + 1)
        times[unit.start : unit.end, 0] = edges[:-1]
        times[unit.start : unit.end, 1] = edges[1:]
    return times


def spans_from_durations(durations: np.ndarray, offset: float = 0.0) -> np.ndarray:
    """Consecutive (start, end) pairs from a vector of durations in seconds."""
    ends = offset + np.cumsum(durations, dtype=np.float64)
    starts = np.concatenate(([offset], ends[:-1])) if len(ends) else ends
    return np.stack([starts, ends], axis=1)

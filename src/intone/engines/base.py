"""The one interface every speech engine implements.

An engine turns one chunk of text in one language into float32 PCM and the time span of every
character of that chunk. Neural engines work from phonemes that the front end (`intone.speech.phonemes`)
has already grouped into units tied to character spans; formant engines may read the text itself.

It does so in two phases, so that audio can leave before the whole chunk is made:
`prepare(request)` runs everything that sees the whole chunk at once (front end, durations, pitch and
energy), which fixes the chunk's timings and length; `decode(prepared, start, stop)` then makes the
audio of frames `[start, stop)`, in any order and any number of windows, each window exactly as long
as asked. An engine that cannot decode in windows does all its work in `prepare` and slices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

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


@dataclass(frozen=True)
class Prepared:
    """A chunk whose timings and length are known and whose audio is yet to be decoded."""

    sample_rate: int
    frame_samples: int  # decode() takes frame indices; one frame is this many samples
    frames: int  # the chunk's audio is exactly frames * frame_samples samples
    # As in EngineResult: (start, end) seconds per character of the request text, NaN where unplaced.
    char_times: np.ndarray
    state: Any = None  # the engine's own: what decode() needs

    @property
    def duration(self) -> float:
        return self.frames * self.frame_samples / self.sample_rate


class Engine(Protocol):
    name: str
    sample_rate: int
    # Longest phoneme string one call accepts; the synthesizer splits chunks to fit.
    max_phonemes: int
    # Whether the engine needs `EngineRequest.units` (phonemes from the front end).
    needs_phonemes: bool
    # The language codes (ISO 639-1 where one exists) the engine really speaks; known without loading.
    languages: frozenset[str]

    def prepare(self, request: EngineRequest) -> Prepared: ...

    def decode(self, prepared: Prepared, start: int, stop: int) -> np.ndarray:
        """float32 audio of frames [start, stop) of a prepared chunk: (stop - start) * frame_samples
        samples, sample for sample the audio of decoding the whole chunk (within the engine's
        documented accuracy). Thread-safe: windows of different chunks may be decoded at once."""
        ...

    def calibrated(self, voice: VoiceRealization) -> bool:
        """Whether windows of this voice decode as well as they can; engines that need no per-voice
        preparation always say True."""
        ...

    def calibrate(self, voice: VoiceRealization) -> None:
        """Does the per-voice preparation windows need (blocking, possibly seconds; cached). Until it is
        done, decode() stays exact by decoding the whole chunk on its first window."""
        ...

    def synthesize(self, request: EngineRequest) -> EngineResult:
        """The whole chunk at once: `prepare`, then one window over all of it (see `synthesize_whole`)."""
        ...


def synthesize_whole(engine: Engine, request: EngineRequest) -> EngineResult:
    prepared = engine.prepare(request)
    audio = engine.decode(prepared, 0, prepared.frames)
    return EngineResult(audio=audio, sample_rate=prepared.sample_rate, char_times=prepared.char_times)


class WholeDecoding:
    """The two phases for an engine that cannot decode in windows: `prepare` synthesizes the whole chunk
    (one sample per frame) and `decode` slices windows out of it. Subclasses define `synthesize`."""

    def synthesize(self, request: EngineRequest) -> EngineResult:
        raise NotImplementedError

    def prepare(self, request: EngineRequest) -> Prepared:
        result = self.synthesize(request)
        return Prepared(result.sample_rate, 1, len(result.audio), result.char_times, result.audio)

    def decode(self, prepared: Prepared, start: int, stop: int) -> np.ndarray:
        return prepared.state[start:stop]

    def calibrated(self, voice: VoiceRealization) -> bool:
        return True

    def calibrate(self, voice: VoiceRealization) -> None:
        return None


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

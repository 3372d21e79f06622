"""The espeak-ng formant engine: robotic but tiny, instant, and speaks 60+ of the API's languages.

It reads the text itself (espeak has its own number and abbreviation rules per language), so it needs
no phonemes from the front end. Timings come from espeak's word events: each word runs from its own
start to the next word's start, spread evenly over its characters.
"""

from __future__ import annotations

import numpy as np

from intone.engines import espeak_ng
from intone.engines.base import EngineRequest, EngineResult, WholeDecoding
from intone.engines.espeak_ng import WordEvent, library

# espeak's default rate in words per minute, which speed 1.0 stands for.
_BASE_RATE = 175
# The end-to-end loudness test (active 10 ms frames above -45 dBFS) measured espeak at -19.5 dBFS;
# 0.85 brings it to about -21, beside Kokoro and Piper.
GAIN = 0.85


class EspeakEngine(WholeDecoding):
    name = "espeak"
    needs_phonemes = False
    # espeak reads text of any length; this only bounds one call's latency.
    max_phonemes = 4000
    languages = espeak_ng.languages()

    def __init__(self) -> None:
        self.sample_rate = library().sample_rate

    def synthesize(self, request: EngineRequest) -> EngineResult:
        voice = espeak_ng.voice_for(request.language, request.locale)
        if voice is None:
            raise ValueError(f"espeak-ng does not speak {request.language!r}")
        if request.voice.variant:
            voice = f"{voice}+{request.voice.variant}"
        rate = round(_BASE_RATE * request.speed * request.voice.tempo)
        samples, words = library().synthesize(voice, request.text, rate, request.voice.pitch)
        audio = samples.astype(np.float32) * (GAIN / 32768.0)
        duration = len(audio) / self.sample_rate
        return EngineResult(audio, self.sample_rate, _char_times(len(request.text), words, duration))


def _char_times(length: int, words: list[WordEvent], duration: float) -> np.ndarray:
    times = np.full((length, 2), np.nan)
    for index, word in enumerate(words):
        end = words[index + 1].seconds if index + 1 < len(words) else duration
        first = min(max(word.text_position, 0), length)
        last = min(first + max(word.length, 1), length)
        if last <= first:
            continue
        edges = np.linspace(word.seconds, max(word.seconds, end), last - first + 1)
        times[first:last, 0] = edges[:-1]
        times[first:last, 1] = edges[1:]
    return times

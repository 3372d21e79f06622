"""Live transcription: audio arriving in small pieces, transcribed in the segments commits close.

A session holds the audio not yet committed, as 16 kHz samples (resampled as it arrives). A commit takes
that audio away to be transcribed as one segment, placed on the session's clock by its start. With the
`vad` commit strategy, Silero VAD (bundled with faster-whisper) decides: a commit is due once speech has
been heard and the silence after it lasts the threshold. Partial transcripts are of the uncommitted
audio so far.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from intone.audio import decode as audio_decode
from intone.audio.resample import StreamResampler
from intone.engines.whisper import SAMPLE_RATE

Encoding = Literal["pcm", "ulaw"]
AUDIO_FORMATS: dict[str, tuple[Encoding, int]] = {
    **{f"pcm_{rate}": ("pcm", rate) for rate in (8000, 16000, 22050, 24000, 44100, 48000)},
    "ulaw_8000": ("ulaw", 8000),
}
# Whisper reads at most 30 seconds at once: uncommitted audio reaching that is committed.
LONGEST_SEGMENT_S = 30.0


@dataclass(frozen=True)
class VadSettings:
    silence_s: float = 1.5  # silence after speech that commits
    threshold: float = 0.4  # Silero's speech probability threshold
    min_speech_ms: int = 100
    min_silence_ms: int = 100


@dataclass(frozen=True)
class Taken:
    """Committed audio and where it starts on the session's clock (seconds)."""

    audio: np.ndarray
    offset: float


class LiveAudio:
    """The session's uncommitted audio."""

    def __init__(self, audio_format: str) -> None:
        """Raises KeyError for an audio format not in AUDIO_FORMATS."""
        self.encoding, self.rate = AUDIO_FORMATS[audio_format]
        self._resampler = StreamResampler(self.rate, SAMPLE_RATE)
        self._pieces: list[np.ndarray] = []
        self._pending = 0  # samples not yet committed
        self._committed = 0  # samples committed before them

    @property
    def pending_seconds(self) -> float:
        return self._pending / SAMPLE_RATE

    def add(self, data: bytes) -> None:
        """Raises audio_decode.UndecodableAudio for bytes that are not whole samples."""
        samples = audio_decode.ulaw(data) if self.encoding == "ulaw" else audio_decode.pcm_s16le(data)
        piece = self._resampler.process(samples)
        self._pieces.append(piece)
        self._pending += len(piece)

    def pending(self) -> np.ndarray:
        # Kept joined: asked for at every voice check and partial, the buffer is copied once, not each time.
        if not self._pieces:
            return np.zeros(0, np.float32)
        if len(self._pieces) > 1:
            self._pieces = [np.concatenate(self._pieces)]
        return self._pieces[0]

    def take(self) -> Taken:
        """The uncommitted audio, now committed."""
        taken = Taken(self.pending(), self._committed / SAMPLE_RATE)
        self._committed += self._pending
        self._pieces, self._pending = [], 0
        return taken


def speech_ended(audio: np.ndarray, vad: VadSettings) -> bool:
    """Whether speech was heard in `audio` and has been followed by `vad.silence_s` of silence."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if len(audio) < vad.silence_s * SAMPLE_RATE:
        return False
    options = VadOptions(
        threshold=vad.threshold,
        min_speech_duration_ms=vad.min_speech_ms,
        min_silence_duration_ms=vad.min_silence_ms,
        speech_pad_ms=0,
    )
    speech = get_speech_timestamps(audio, options)
    return bool(speech) and (len(audio) - speech[-1]["end"]) / SAMPLE_RATE >= vad.silence_s

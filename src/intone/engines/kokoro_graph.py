"""Kokoro's graph cut into parts for decoding in windows (docs/kokoro-windows.md).

- `front`: tokens, style, speed -> durations, the generator's input and the harmonic source (the
  waveform the generator takes an STFT of, padded as the STFT wants). It sees the whole chunk; everything
  after it works frame by frame, except statistics. The source's STFT is left to the generator: on a
  window it is cheap, on the whole chunk it was a fifth of the front's time, ahead of the first audio.
- `upsampler`: the generator's input -> its first upsampling (`ups.0`, a float ConvTranspose, x10). Kept
  apart because it rounds differently on inputs under 66 steps, while everything after it decodes any
  window exactly: it runs on at least 33 frames and the generator on what the window needs.
- `generator`: the upsampled input, source, style and the generator's statistics -> audio. Every
  instance norm's two `ReduceMean`s over time (mean, variance) and every `DynamicQuantizeLinear` of a
  tensor that runs along time (replaced by `QuantizeLinear`) take their values from graph inputs, so a
  window decodes as the same frames would inside a chunk with those statistics.
- `measuring`: the generator as shipped, with those statistics as extra outputs (each quantized
  tensor's minimum and maximum, from which the scale and zero point follow as `DynamicQuantizeLinear`
  computes them). `front` then `measuring` make the whole model's audio bit for bit.

The generator carries the statistics' names (a `Layout`, in `kokoro_layout`) in its metadata.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx
import onnx.utils
from onnx import TensorProto, helper

from intone.engines.kokoro_layout import (
    AUDIO,
    DURATIONS,
    GENERATOR_INPUT,
    LAYOUT_KEY,
    SOURCE,
    STYLE,
    UPSAMPLED,
    Layout,
    Norm,
    Quantizer,
)


@dataclass(frozen=True)
class Parts:
    front: onnx.ModelProto
    upsampler: onnx.ModelProto
    generator: onnx.ModelProto
    measuring: onnx.ModelProto


# The per-token durations (in frames) inside the encoder, which the shipped model does not output.
_DURATION_TENSOR = "/encoder/Cast_output_0"


def with_durations(serialized: bytes) -> bytes:
    """The shipped model with its per-token durations as the extra output `durations`."""
    model = onnx.load_from_string(serialized)
    model.graph.node.append(
        helper.make_node("Identity", [_DURATION_TENSOR], [DURATIONS], name="intone_durations")
    )
    model.graph.output.append(helper.make_tensor_value_info(DURATIONS, TensorProto.INT64, [1, "tokens"]))
    return model.SerializeToString()


def split(serialized: bytes) -> Parts:
    """The four models cut from the durations-patched Kokoro model."""
    model = onnx.load_from_string(serialized)
    layout = _statistics(model)
    front = onnx.utils.Extractor(model).extract_model(
        ["tokens", STYLE, "speed"], [DURATIONS, GENERATOR_INPUT, SOURCE]
    )
    upsampler = onnx.utils.Extractor(model).extract_model([GENERATOR_INPUT], [UPSAMPLED])
    measuring = _measuring(model, layout)
    generator = _generator(model, layout)
    helper.set_model_props(generator, {LAYOUT_KEY: layout.to_json()})
    return Parts(front, upsampler, generator, measuring)


def _statistics(model: onnx.ModelProto) -> Layout:
    """The instance norms and dynamic quantizers downstream of the generator's two time-running inputs."""
    producers = {output: node for node in model.graph.node for output in node.output}
    timed = {GENERATOR_INPUT, SOURCE}
    norms: list[Norm] = []
    quantizers: list[Quantizer] = []
    means: set[str] = set()
    for node in model.graph.node:  # topologically sorted, as ONNX requires
        if not timed.intersection(node.input):
            continue
        timed.update(node.output)
        if node.op_type == "DynamicQuantizeLinear":
            tensor = node.input[0]
            names = (f"{tensor}_intone_min", f"{tensor}_intone_max")
            quantizers.append(Quantizer(node.output[1], node.output[2], *names))
        elif node.op_type == "ReduceMean":
            mean = _variance_of(node, producers)
            if mean is not None:
                norms.append(Norm(mean=mean, variance=node.output[0]))
            else:
                means.add(node.output[0])
    # Every ReduceMean over time must be a mean or a variance of a norm found, or a statistic would
    # stay dynamic and windows would not decode as the whole chunk does.
    if means != {norm.mean for norm in norms}:
        raise ValueError("Kokoro's generator has a ReduceMean over time that is not an instance norm")
    return Layout(tuple(norms), tuple(quantizers))


def _variance_of(node: onnx.NodeProto, producers: dict[str, onnx.NodeProto]) -> str | None:
    """The mean's name if `node` is ReduceMean(Mul(d, d)) with d = Sub(x, ReduceMean(x)), else None."""
    square = producers.get(node.input[0])
    if square is None or square.op_type != "Mul" or square.input[0] != square.input[1]:
        return None
    difference = producers.get(square.input[0])
    if difference is None or difference.op_type != "Sub":
        return None
    mean = producers.get(difference.input[1])
    if mean is None or mean.op_type != "ReduceMean" or mean.input[0] != difference.input[0]:
        return None
    return difference.input[1]


def _measuring(model: onnx.ModelProto, layout: Layout) -> onnx.ModelProto:
    work = _copy(model)
    ranges = {quantizer.scale: quantizer for quantizer in layout.quantizers}
    nodes = []
    for node in work.graph.node:
        nodes.append(node)
        quantizer = ranges.get(node.output[1]) if node.op_type == "DynamicQuantizeLinear" else None
        if quantizer is None:
            continue
        # Beside the quantizer, so that an execution order that follows the graph's frees the tensor
        # early (the engine runs this model in onnxruntime's priority-based order).
        for op, name in (("ReduceMin", quantizer.minimum), ("ReduceMax", quantizer.maximum)):
            nodes.append(helper.make_node(op, [node.input[0]], [name], name=name, keepdims=0))
            _declare(work, name, TensorProto.FLOAT, [])
    del work.graph.node[:]
    work.graph.node.extend(nodes)
    _declare_norms(work, layout)
    return onnx.utils.Extractor(work).extract_model(
        [GENERATOR_INPUT, SOURCE, STYLE], [AUDIO, *layout.measured()]
    )


def _generator(model: onnx.ModelProto, layout: Layout) -> onnx.ModelProto:
    work = _copy(model)
    scales = {quantizer.scale for quantizer in layout.quantizers}
    nodes = []
    for node in work.graph.node:
        if node.op_type == "DynamicQuantizeLinear" and node.output[1] in scales:
            # The same rounding and saturation as DynamicQuantizeLinear, with the range given.
            node = helper.make_node(
                "QuantizeLinear",
                [node.input[0], node.output[1], node.output[2]],
                [node.output[0]],
                name=node.name,
            )
        nodes.append(node)
    del work.graph.node[:]
    work.graph.node.extend(nodes)
    for quantizer in layout.quantizers:
        _declare(work, quantizer.scale, TensorProto.FLOAT, [])
        _declare(work, quantizer.zero_point, TensorProto.UINT8, [])
    _declare_norms(work, layout)
    statistics = [
        *(norm.mean for norm in layout.norms),
        *(norm.variance for norm in layout.norms),
        *(q.scale for q in layout.quantizers),
        *(q.zero_point for q in layout.quantizers),
    ]
    inputs = [UPSAMPLED, SOURCE, STYLE, *statistics]
    return onnx.utils.Extractor(work).extract_model(inputs, [AUDIO])


def _declare_norms(model: onnx.ModelProto, layout: Layout) -> None:
    for norm in layout.norms:
        _declare(model, norm.mean, TensorProto.FLOAT, [1, None, 1])
        _declare(model, norm.variance, TensorProto.FLOAT, [1, None, 1])


def _declare(model: onnx.ModelProto, name: str, element_type: int, shape: list[int | None]) -> None:
    """Declares the type of a value that becomes a graph input or output (the extractor needs one)."""
    infos = model.graph.value_info
    for index in reversed(range(len(infos))):
        if infos[index].name == name:
            del infos[index]
    infos.append(helper.make_tensor_value_info(name, element_type, shape))


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    work = onnx.ModelProto()
    work.CopyFrom(model)
    return work

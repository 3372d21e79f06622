"""The names Kokoro's parts are cut at and the layout of the generator's statistics: what running the
parts needs, without the `onnx` package that cutting them takes (it costs over a second to import, and only
a first start cuts them; see `kokoro_graph`)."""

from __future__ import annotations

import json
from dataclasses import dataclass

GENERATOR_INPUT = "/decoder/decoder/decode.3/Div_4_output_0"
# The source after its reflection padding, [1, 1, 600 * frames + 20]: STFT step k (n_fft 20, hop 5) reads
# samples 5k to 5k + 20, so frames [a, b) read samples [600a, 600b + 20).
SOURCE = "/decoder/decoder/generator/Pad_output_0"
# The generator's input after `ups.0` (stride 10, kernel 20, padding 5): [1, 256, 20 * frames]; step j
# reads input steps (j - 14) // 10 to (j + 5) // 10.
UPSAMPLED = "/decoder/decoder/generator/ups.0/ConvTranspose_output_0"
DURATIONS = "durations"
AUDIO = "audio"
STYLE = "style"
LAYOUT_KEY = "intone_statistics_layout"


@dataclass(frozen=True)
class Norm:
    """One instance norm: the names of its mean and variance over time (each [1, channels, 1])."""

    mean: str
    variance: str


@dataclass(frozen=True)
class Quantizer:
    """One dynamic quantization of a tensor that runs along time: the scale and zero point the
    generator takes as inputs, and the names of the measuring model's minimum and maximum of it."""

    scale: str
    zero_point: str
    minimum: str
    maximum: str


@dataclass(frozen=True)
class Layout:
    norms: tuple[Norm, ...]
    quantizers: tuple[Quantizer, ...]

    def to_json(self) -> str:
        return json.dumps(
            {
                "norms": [[norm.mean, norm.variance] for norm in self.norms],
                "quantizers": [[q.scale, q.zero_point, q.minimum, q.maximum] for q in self.quantizers],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Layout:
        data = json.loads(text)
        return cls(
            tuple(Norm(*names) for names in data["norms"]),
            tuple(Quantizer(*names) for names in data["quantizers"]),
        )

    def measured(self) -> list[str]:
        """The measuring model's statistic outputs, in order: means, variances, minima, maxima."""
        return [
            *(norm.mean for norm in self.norms),
            *(norm.variance for norm in self.norms),
            *(q.minimum for q in self.quantizers),
            *(q.maximum for q in self.quantizers),
        ]

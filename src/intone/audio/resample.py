"""Streaming sample-rate conversion from the engine's rate to the output format's rate."""

from __future__ import annotations

import numpy as np
import soxr


class StreamResampler:
    """Resamples float32 mono audio chunk by chunk.

    The filter state carries over between calls, so the concatenated output of `process` calls followed
    by `flush` matches resampling the whole signal at once (soxr HQ; bit-identical in practice).
    The linear-phase filter holds back the newest 10-72 ms (72 ms for 24 kHz -> 8 kHz) until more input
    or `flush` arrives. When the rates match it passes audio through untouched.
    """

    def __init__(self, input_rate: int, output_rate: int) -> None:
        if input_rate <= 0 or output_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {input_rate} -> {output_rate}")
        self.input_rate = input_rate
        self.output_rate = output_rate
        self._stream = (
            None
            if input_rate == output_rate
            else soxr.ResampleStream(input_rate, output_rate, 1, dtype="float32", quality="HQ")
        )
        self._flushed = False

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Feed the next chunk; returns the output that is ready (the filter holds back a short tail)."""
        if self._flushed:
            raise RuntimeError("process() called after flush()")
        samples = np.ascontiguousarray(chunk, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"expected mono audio as a 1-D array, got shape {samples.shape}")
        if self._stream is None:
            return samples
        return self._stream.resample_chunk(samples)

    def flush(self) -> np.ndarray:
        """Ends the stream and returns the held-back tail."""
        if self._flushed:
            raise RuntimeError("flush() called twice")
        self._flushed = True
        if self._stream is None:
            return np.zeros(0, dtype=np.float32)
        return self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)


def resample(audio: np.ndarray, input_rate: int, output_rate: int) -> np.ndarray:
    """One whole piece of float32 mono audio at another rate."""
    if input_rate == output_rate:
        return audio
    return soxr.resample(audio, input_rate, output_rate, quality="HQ").astype(np.float32)

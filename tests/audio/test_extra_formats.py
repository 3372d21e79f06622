"""AAC (ADTS) and FLAC, the formats made beyond ElevenLabs' list for the OpenAI-compatible routes: each
decodes to the audio written, streamed in pieces as in one go, and a stream with no audio is still a file."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from intone.audio.encoders import StreamEncoder, encode
from intone.audio.formats import (
    EXTRA_FORMATS,
    InvalidOutputFormat,
    OutputFormat,
    known_format,
    parse_output_format,
)
from tests.audio.test_encoders import (
    ENGINE_RATE,
    best_lag,
    gain_and_snr,
    reference,
    uneven_pieces,
    voiced,
)

_CONTAINERS = {"aac": "aac", "flac": "flac"}


def _decode(data: bytes, fmt: OutputFormat) -> np.ndarray:
    with av.open(io.BytesIO(data), format=_CONTAINERS[fmt.codec]) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == fmt.codec
        frames = list(container.decode(stream))
    assert {frame.sample_rate for frame in frames} == {fmt.sample_rate}
    assert {frame.layout.nb_channels for frame in frames} == {1}
    pcm = np.concatenate([frame.to_ndarray().reshape(-1) for frame in frames])
    return pcm.astype(np.float64) / (32767.0 if pcm.dtype == np.int16 else 1.0)


@pytest.mark.parametrize("name", EXTRA_FORMATS)
def test_round_trip_in_pieces(name: str) -> None:
    fmt = known_format(name)
    source = voiced(2.0)
    encoder = StreamEncoder(fmt, ENGINE_RATE)
    outputs = [encoder.write(piece) for piece in uneven_pieces(source, 20)]
    streamed = b"".join(outputs) + encoder.finish()
    assert sum(1 for out in outputs if out) >= 10  # bytes leave as audio comes in
    assert streamed == encode(source, ENGINE_RATE, fmt)

    decoded = _decode(streamed, fmt)
    ref = reference(source, fmt.sample_rate)
    if fmt.codec == "flac":  # lossless: the very samples PCM would carry
        assert np.max(np.abs(decoded - ref)) <= 1.0 / 32767
        return
    # AAC: its priming delay (1024 samples) ahead, whole 1024-sample frames after.
    lag = best_lag(decoded, ref, max_lag=4096)
    assert 0 <= lag <= 2048
    assert len(ref) <= len(decoded) - lag <= len(ref) + 2048
    gain, snr = gain_and_snr(decoded, ref, lag)
    assert 0.9 <= gain <= 1.1
    assert snr >= 15


@pytest.mark.parametrize("name", EXTRA_FORMATS)
def test_a_stream_without_audio_is_still_a_file(name: str) -> None:
    fmt = known_format(name)
    data = StreamEncoder(fmt, ENGINE_RATE).finish()
    assert np.abs(_decode(data, fmt)).max() == 0  # one silent sample (one silent frame, for AAC)


def test_extra_formats_are_not_elevenlabs_output_formats() -> None:
    for name in EXTRA_FORMATS:
        with pytest.raises(InvalidOutputFormat):
            parse_output_format(name)

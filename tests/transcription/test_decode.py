"""Uploads decoded to 16 kHz mono: containers PyAV writes, raw PCM, and what is refused."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from intone.audio.decode import AudioTooLong, UndecodableAudio, decode, decode_pcm_s16le


def _encoded(container: str, codec: str, seconds: float, rate: int = 44_100) -> io.BytesIO:
    """A stereo tone, encoded as `codec` in `container`."""
    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as file:
        stream = file.add_stream(codec, rate=rate, layout="stereo")
        t = np.arange(int(seconds * rate)) / rate
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
        frame.rate = rate
        for packet in stream.encode(frame):
            file.mux(packet)
        for packet in stream.encode(None):
            file.mux(packet)
    out.seek(0)
    return out


FORMATS = [("wav", "pcm_s16le"), ("mp3", "libmp3lame"), ("ogg", "libopus")]


@pytest.mark.parametrize(("container", "codec"), FORMATS)
def test_containers_decode_to_16_khz_mono_of_their_length(container, codec):
    samples = decode(_encoded(container, codec, 1.5, 48_000 if codec == "libopus" else 44_100), 16_000, 60)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(len(samples) / 16_000 - 1.5) < 0.1
    assert 0.15 < np.sqrt(np.mean(samples**2)) < 0.35  # the tone is there (the downmix may raise it)


def test_not_audio_is_refused():
    with pytest.raises(UndecodableAudio):
        decode(io.BytesIO(b"plain text, no audio here\n" * 40), 16_000, 60)


def test_a_recording_past_the_longest_is_refused():
    with pytest.raises(AudioTooLong):
        decode(_encoded("wav", "pcm_s16le", 3.0), 16_000, 2.0)


def test_raw_pcm_reads_as_signed_16_bit():
    raw = np.array([0, 16384, -32768], "<i2").tobytes()
    assert decode_pcm_s16le(io.BytesIO(raw), 16_000, 60).tolist() == [0.0, 0.5, -1.0]
    with pytest.raises(UndecodableAudio):
        decode_pcm_s16le(io.BytesIO(raw + b"\x01"), 16_000, 60)
    with pytest.raises(AudioTooLong):
        decode_pcm_s16le(io.BytesIO(raw * 10), 16_000, 1 / 16_000)

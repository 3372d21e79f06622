"""Decoding uploaded audio (or video) into float32 mono samples at one rate.

Any container and codec the bundled FFmpeg reads (through PyAV) is accepted: WAV, MP3, FLAC, Ogg/Opus,
AAC/M4A, WebM, MP4 and MKV video (their first audio stream), and so on. The file is read packet by
packet and resampled frame by frame, so only the decoded samples are held, never the file as well; a
recording longer than `max_seconds` is refused as soon as the decoder passes that length.
"""

from __future__ import annotations

from typing import BinaryIO

import av
import numpy as np

PCM_S16LE_BYTES = 2


class UndecodableAudio(ValueError):
    """The upload is not audio this server can read (or holds no audio stream)."""


class AudioTooLong(ValueError):
    """The recording lasts longer than allowed."""


def decode(source: BinaryIO, rate: int, max_seconds: float) -> np.ndarray:
    """The first audio stream of `source`, as float32 mono at `rate` Hz."""
    limit = int(max_seconds * rate)
    try:
        container = av.open(source, mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError) as error:
        raise UndecodableAudio(f"The file is not audio or video that can be read ({error}).") from None
    with container:
        if not container.streams.audio:
            raise UndecodableAudio("The file holds no audio stream.")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        pieces: list[np.ndarray] = []
        total = 0
        try:
            for frame in container.decode(stream):
                for converted in resampler.resample(frame):
                    total += _keep(pieces, converted, total, limit)
            for converted in resampler.resample(None):
                total += _keep(pieces, converted, total, limit)
        except av.error.FFmpegError as error:
            raise UndecodableAudio(f"The audio cannot be decoded ({error}).") from None
    if not pieces:
        raise UndecodableAudio("The file's audio stream holds no samples.")
    return np.concatenate(pieces)


def _keep(pieces: list[np.ndarray], frame: av.AudioFrame, total: int, limit: int) -> int:
    samples = frame.to_ndarray().reshape(-1)
    if total + len(samples) > limit:
        raise AudioTooLong(f"The recording is longer than {limit / frame.sample_rate:.0f} seconds.")
    pieces.append(samples)
    return len(samples)


def decode_pcm_s16le(source: BinaryIO, rate: int, max_seconds: float) -> np.ndarray:
    """Raw 16-bit little-endian mono PCM at `rate` (ElevenLabs' `pcm_s16le_16`) as float32, read in
    blocks (of an even size, so only the last can be odd)."""
    limit = int(max_seconds * rate)
    pieces: list[np.ndarray] = []
    total = 0
    while block := source.read(1 << 20):
        total += len(block) // PCM_S16LE_BYTES
        if total > limit:
            raise AudioTooLong(f"The recording is longer than {max_seconds:.0f} seconds.")
        pieces.append(pcm_s16le(block))
    if not pieces:
        raise UndecodableAudio("The file is empty.")
    return np.concatenate(pieces)


def pcm_s16le(data: bytes) -> np.ndarray:
    """Raw 16-bit little-endian samples as float32; raises UndecodableAudio for an odd byte count."""
    if len(data) % PCM_S16LE_BYTES:
        raise UndecodableAudio("Raw 16-bit PCM must have an even number of bytes.")
    return np.frombuffer(data, "<i2").astype(np.float32) / 32768.0


def ulaw(data: bytes) -> np.ndarray:
    """G.711 mu-law bytes as float32 (ITU-T G.711's expansion: sign, 3-bit exponent, 4-bit mantissa)."""
    codes = ~np.frombuffer(data, np.uint8)
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa.astype(np.int32) << 3) + 0x84) << exponent) - 0x84
    return (np.where(codes & 0x80, -magnitude, magnitude) / 32768.0).astype(np.float32)

"""Incremental encoders for every output format.

`StreamEncoder` turns float32 mono PCM at the engine's rate into the bytes of one output format, a chunk
at a time, so audio can be sent while the rest is still being synthesised. Everything it returns, joined
in order, is one valid file or stream. Samples are clipped to [-1, 1] and never rescaled: loudness is
decided upstream for the whole utterance, not per chunk (LAME's fixed preset gain aside, see `_Mp3Codec`).

Latency: when resampling, the last 10-72 ms of each write wait in the resampler for the next one.
PCM, WAV and G.711 return everything else at once. LAME hands out bytes (not whole frames) once it has
a frame plus lookahead. Ogg Opus returns pages of about 100 ms, so up to that much audio more waits in
the muxer for the next write or `finish`. AAC (in ADTS frames) and FLAC return each packet as the encoder
makes it: AAC after about two 1024-sample frames, FLAC after a block of 4608 samples.
"""

from __future__ import annotations

import struct
import threading
from fractions import Fraction
from typing import Protocol

import av
import lameenc
import numpy as np

from intone.audio.formats import OutputFormat
from intone.audio.resample import StreamResampler

# int16 full scale; 32767 rather than 32768 keeps +1.0 and -1.0 symmetric and in range.
_INT16_SCALE = 32767.0

WAV_HEADER_SIZE = 44
# What ffmpeg writes for RIFF and data chunk sizes when its output is a pipe: readers then take the
# data to run until the end of the stream.
_WAV_UNKNOWN_SIZE = 0xFFFFFFFF

# Ogg page length in microseconds. ffmpeg's default (1 s) would hold back up to a second of audio;
# one page per 20 ms Opus packet would add ~9 kbit/s of page headers. 100 ms costs ~2 kbit/s.
_OGG_PAGE_DURATION_US = 100_000

_LAME_QUALITY = 2


def _to_int16(samples: np.ndarray) -> np.ndarray:
    # float64 so the product is exact and rint rounds every sample correctly (float32 would not).
    return np.rint(samples.astype(np.float64) * _INT16_SCALE).astype("<i2")


def wav_header(sample_rate: int, data_size: int | None) -> bytes:
    """A 44-byte header for 16-bit mono PCM; `data_size=None` writes the unknown-length markers."""
    block_align = 2
    riff_size = _WAV_UNKNOWN_SIZE if data_size is None else 36 + data_size
    data_field = _WAV_UNKNOWN_SIZE if data_size is None else data_size
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        riff_size,
        b"WAVE",
        b"fmt ",
        16,
        1,  # PCM
        1,  # mono
        sample_rate,
        sample_rate * block_align,
        block_align,
        16,
        b"data",
        data_field,
    )


class _Codec(Protocol):
    def encode(self, samples: np.ndarray) -> bytes:
        """Takes clipped float32 samples at the format's rate; returns the bytes ready now."""
        ...

    def finish(self) -> bytes: ...


class _PcmCodec:
    """Raw s16le, optionally preceded by a header in the first bytes returned."""

    def __init__(self, header: bytes = b"") -> None:
        self._pending_header = header

    def encode(self, samples: np.ndarray) -> bytes:
        out = self._pending_header + _to_int16(samples).tobytes()
        self._pending_header = b""
        return out

    def finish(self) -> bytes:
        return self.encode(np.zeros(0, dtype=np.float32))


class _FFmpegPcmCodec:
    """A headerless ffmpeg audio codec fed s16 frames, used for G.711 (`pcm_mulaw`, `pcm_alaw`)."""

    def __init__(self, codec_name: str, sample_rate: int) -> None:
        self._context = av.CodecContext.create(codec_name, "w")
        self._context.sample_rate = sample_rate
        self._context.layout = "mono"
        self._context.format = "s16"

    def encode(self, samples: np.ndarray) -> bytes:
        if samples.size == 0:
            return b""
        frame = av.AudioFrame.from_ndarray(_to_int16(samples)[np.newaxis, :], format="s16", layout="mono")
        frame.sample_rate = self._context.sample_rate
        return b"".join(bytes(packet) for packet in self._context.encode(frame))

    def finish(self) -> bytes:
        return b"".join(bytes(packet) for packet in self._context.encode(None))


class _Mp3Codec:
    """Constant-bitrate MP3 via LAME.

    No Xing/LAME tag (it could only be written once the stream has ended), so decoders do not trim
    LAME's 1105-sample start delay or the end padding. LAME's CBR presets also scale the input by
    0.95 (-0.45 dB) as headroom against clipping in decoders; lameenc offers no way to change that.
    """

    def __init__(self, sample_rate: int, bitrate: int) -> None:
        self._lame = lameenc.Encoder()
        self._lame.set_bit_rate(bitrate // 1000)
        # Same rate in and out, or LAME picks a lower output rate by itself at low bitrates.
        self._lame.set_in_sample_rate(sample_rate)
        self._lame.set_out_sample_rate(sample_rate)
        self._lame.set_channels(1)
        self._lame.set_quality(_LAME_QUALITY)
        self._started = False

    def encode(self, samples: np.ndarray) -> bytes:
        if samples.size == 0:
            return b""
        self._started = True
        return bytes(self._lame.encode(_to_int16(samples).tobytes()))

    def finish(self) -> bytes:
        # LAME refuses to flush a stream that never began (text with nothing to say): no bytes, then.
        return bytes(self._lame.flush()) if self._started else b""


class _ByteSink:
    """A write-only, non-seekable file for PyAV: ffmpeg then flushes each muxed packet straight through."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        self._buffer += data
        return len(data)

    def take(self) -> bytes:
        out = bytes(self._buffer)
        self._buffer.clear()
        return out


class _MuxedCodec:
    """An ffmpeg encoder whose packets a muxer writes into `container` as they come: Ogg Opus, ADTS AAC,
    FLAC. The sink cannot seek, so headers that would be rewritten at the end (FLAC's total length) stay
    as first written, which decoders accept."""

    def __init__(
        self,
        container: str,
        codec_name: str,
        sample_rate: int,
        bitrate: int | None,
        sample_format: str,
        container_options: dict[str, str] | None = None,
        codec_options: dict[str, str] | None = None,
    ) -> None:
        self._sink = _ByteSink()
        self._container = av.open(self._sink, mode="w", format=container, options=container_options or {})
        self._stream = self._container.add_stream(codec_name, rate=sample_rate, options=codec_options or {})
        if bitrate is not None:
            self._stream.bit_rate = bitrate
        self._stream.layout = "mono"
        self._stream.format = sample_format
        # 16-bit codecs get samples rounded as every other format's are; the others get them as they are.
        self._integer = sample_format == "s16"
        self._time_base = Fraction(1, sample_rate)
        self._pts = 0

    def encode(self, samples: np.ndarray) -> bytes:
        if samples.size == 0:
            return b""
        # PyAV converts to the codec's sample format (planar, for AAC) and regroups into its frame size.
        if self._integer:
            frame = av.AudioFrame.from_ndarray(_to_int16(samples)[np.newaxis, :], format="s16", layout="mono")
        else:
            frame = av.AudioFrame.from_ndarray(samples[np.newaxis, :], format="flt", layout="mono")
        frame.sample_rate = self._stream.rate
        frame.time_base = self._time_base
        frame.pts = self._pts
        self._pts += samples.size
        self._container.mux(self._stream.encode(frame))
        return self._sink.take()

    def finish(self) -> bytes:
        if self._pts == 0:
            # A stream with no packets is no valid file in every container (Ogg ends without its
            # end-of-stream page, ADTS is empty): one silent sample keeps even an empty utterance one.
            self.encode(np.zeros(1, dtype=np.float32))
        self._container.mux(self._stream.encode(None))
        self._container.close()  # writes the trailer (Ogg: the last page, flagged end-of-stream)
        return self._sink.take()


def _ogg_opus(sample_rate: int, bitrate: int) -> _MuxedCodec:
    """libopus in an Ogg container (ffmpeg's muxer writes OpusHead pre-skip and end trimming).
    Constrained VBR keeps the bitrate near the nominal one; unconstrained VBR doubled it on strongly
    harmonic (voiced) audio in our tests."""
    return _MuxedCodec(
        "ogg",
        "libopus",
        sample_rate,
        bitrate,
        "flt",
        container_options={"page_duration": str(_OGG_PAGE_DURATION_US)},
        codec_options={"vbr": "constrained"},
    )


def _make_codec(fmt: OutputFormat) -> _Codec:
    match fmt.codec:
        case "pcm":
            return _PcmCodec()
        case "wav":
            return _PcmCodec(wav_header(fmt.sample_rate, None))
        case "ulaw":
            return _FFmpegPcmCodec("pcm_mulaw", fmt.sample_rate)
        case "alaw":
            return _FFmpegPcmCodec("pcm_alaw", fmt.sample_rate)
        case "mp3":
            return _Mp3Codec(fmt.sample_rate, _require_bitrate(fmt))
        case "opus":
            return _ogg_opus(fmt.sample_rate, _require_bitrate(fmt))
        case "aac":
            return _MuxedCodec("adts", "aac", fmt.sample_rate, _require_bitrate(fmt), "fltp")
        case "flac":
            return _MuxedCodec("flac", "flac", fmt.sample_rate, None, "s16")
    raise ValueError(f"no encoder for codec {fmt.codec!r}")


def _require_bitrate(fmt: OutputFormat) -> int:
    if fmt.bitrate is None:
        raise ValueError(f"output format {fmt.name} needs a bitrate")
    return fmt.bitrate


def _as_mono_float(pcm: np.ndarray) -> np.ndarray:
    samples = np.asarray(pcm)
    if not np.issubdtype(samples.dtype, np.floating):
        raise TypeError(f"expected float PCM in [-1, 1], got dtype {samples.dtype}")
    if samples.ndim != 1:
        raise ValueError(f"expected mono audio as a 1-D array, got shape {samples.shape}")
    return samples.astype(np.float32, copy=False)


class StreamEncoder:
    """Encodes one stream of audio into `fmt`, chunk by chunk.

    `write` and `finish` may be called from different threads (one at a time per instance is enforced
    by a lock); instances share no state. For `wav` the header goes out first with the unknown-size
    markers (0xFFFFFFFF) that ffmpeg uses on pipes; use `encode` for a WAV file with exact sizes.
    """

    def __init__(self, fmt: OutputFormat, input_rate: int) -> None:
        self.format = fmt
        self.input_rate = input_rate
        self._resampler = StreamResampler(input_rate, fmt.sample_rate)
        self._codec = _make_codec(fmt)
        self._lock = threading.Lock()
        self._finished = False

    def write(self, pcm: np.ndarray) -> bytes:
        """Takes float32 mono PCM at `input_rate`; returns the encoded bytes ready so far (maybe b"")."""
        samples = _as_mono_float(pcm)
        with self._lock:
            self._check_open()
            return self._codec.encode(self._clipped(self._resampler.process(samples)))

    def finish(self) -> bytes:
        """Flushes resampler and codec and returns the rest of the stream, trailer included."""
        with self._lock:
            self._check_open()
            self._finished = True
            tail = self._codec.encode(self._clipped(self._resampler.flush()))
            return tail + self._codec.finish()

    def _check_open(self) -> None:
        if self._finished:
            raise RuntimeError("the encoder is already finished")

    @staticmethod
    def _clipped(samples: np.ndarray) -> np.ndarray:
        # The resampler can overshoot a full-scale input slightly; clip after it, not before.
        return np.clip(samples, -1.0, 1.0)


def encode(pcm: np.ndarray, input_rate: int, fmt: OutputFormat) -> bytes:
    """Encodes a whole utterance at once; WAV output carries its exact sizes."""
    encoder = StreamEncoder(fmt, input_rate)
    return with_wav_sizes(fmt, encoder.write(pcm) + encoder.finish())


def with_wav_sizes(fmt: OutputFormat, audio: bytes) -> bytes:
    """A whole WAV file with its real sizes in the header (a streamed header cannot know them); other
    formats unchanged."""
    if fmt.codec != "wav" or len(audio) < WAV_HEADER_SIZE:
        return audio
    return wav_header(fmt.sample_rate, len(audio) - WAV_HEADER_SIZE) + audio[WAV_HEADER_SIZE:]

"""Round trips through every output format, checked with decoders that are not our encoders.

MP3 and Ogg Opus are decoded by ffmpeg (PyAV); raw PCM by numpy; G.711 by ffmpeg's mulaw/alaw
demuxers; WAV by ffmpeg and by the standard library's `wave`. MP3 frame headers and Ogg page headers
are also parsed here byte by byte, so a broken stream cannot hide behind a forgiving decoder.

Measured behaviour the tolerances rest on (lameenc 1.x / LAME 3.100, libopus via FFmpeg):
- MP3 has no LAME tag, so decoders keep LAME's start delay: exactly 1105 samples (576 encoder +
  529 decoder) at every rate, then up to one frame of end padding.
- LAME's CBR presets scale the input by 0.95 (0.97 at 192 kbit/s): a fixed gain, not normalisation.
- Ogg Opus round-trips to the exact sample count (pre-skip and end trimming are in the stream).
"""

from __future__ import annotations

import io
import itertools
import struct
import threading
import wave
from dataclasses import dataclass

import av
import numpy as np
import pytest
import soxr

from intone.audio.encoders import WAV_HEADER_SIZE, StreamEncoder, encode
from intone.audio.formats import ALL_FORMATS, STREAMING_FORMATS, OutputFormat, parse_output_format
from intone.audio.resample import StreamResampler

ENGINE_RATE = 24000
LAME_DELAY = 1105


# --- signals ---------------------------------------------------------------------------------------


def _time(seconds: float) -> np.ndarray:
    return np.arange(round(seconds * ENGINE_RATE)) / ENGINE_RATE


def sweep(seconds: float = 2.0) -> np.ndarray:
    """Logarithmic sine sweep 100 Hz to 3.5 kHz, inside every format's passband (8 kHz G.711 too)."""
    t = _time(seconds)
    freq = 100.0 * (3500.0 / 100.0) ** (t / t[-1])
    return (0.5 * np.sin(2 * np.pi * np.cumsum(freq) / ENGINE_RATE)).astype(np.float32)


def voiced(seconds: float = 2.0, peak: float = 0.6) -> np.ndarray:
    """Harmonics of a gliding 110-170 Hz pitch under a syllable-like amplitude envelope."""
    t = _time(seconds)
    f0 = 140.0 + 30.0 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / ENGINE_RATE
    tone = sum(np.sin(k * phase) / k for k in range(1, 20))
    envelope = np.sin(np.pi * 4.0 * t) ** 2
    signal = tone * envelope
    return (peak * signal / np.abs(signal).max()).astype(np.float32)


def silence(seconds: float = 1.0) -> np.ndarray:
    return np.zeros(len(_time(seconds)), dtype=np.float32)


def uneven_pieces(signal: np.ndarray, count: int, seed: int = 7) -> list[np.ndarray]:
    """`count` pieces of random lengths, including a 1-sample and an empty one."""
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(np.arange(2, len(signal) - 1), size=count - 3, replace=False))
    bounds = [0, 1, 1, *cuts.tolist(), len(signal)]
    return [signal[a:b] for a, b in itertools.pairwise(bounds)]


# --- independent decoding --------------------------------------------------------------------------


@dataclass
class Decoded:
    samples: np.ndarray  # float64, full scale 1.0
    sample_rate: int
    channels: int
    codec: str


_DEMUXERS = {"mp3": "mp3", "opus": "ogg", "wav": "wav", "ulaw": "mulaw", "alaw": "alaw"}


def decode(data: bytes, fmt: OutputFormat) -> Decoded:
    if fmt.codec == "pcm":
        return Decoded(np.frombuffer(data, "<i2") / 32767.0, fmt.sample_rate, 1, "s16le")
    # Raw G.711 carries no header, so its demuxer must be told the rate and layout.
    options = {"sample_rate": "8000", "ch_layout": "mono"} if fmt.codec in ("ulaw", "alaw") else {}
    with av.open(io.BytesIO(data), format=_DEMUXERS[fmt.codec], options=options) as container:
        stream = container.streams.audio[0]
        frames = list(container.decode(stream))
        codec = stream.codec_context.name
    rates = {f.sample_rate for f in frames}
    channels = {f.layout.nb_channels for f in frames}
    assert len(rates) == 1 and len(channels) == 1
    pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in frames])
    scale = 32767.0 if pcm.dtype == np.int16 else 1.0
    return Decoded(pcm.astype(np.float64) / scale, rates.pop(), channels.pop(), codec)


def reference(signal: np.ndarray, rate: int) -> np.ndarray:
    """What the format should carry: the source resampled in one go (soxr HQ), clipped."""
    out = signal if rate == ENGINE_RATE else soxr.resample(signal, ENGINE_RATE, rate, quality="HQ")
    return np.clip(out.astype(np.float64), -1.0, 1.0)


def best_lag(decoded: np.ndarray, ref: np.ndarray, max_lag: int) -> int:
    """Codec delay: the lag of decoded behind ref that maximises their cross-correlation (FFT)."""
    n = min(len(ref), 4 * 24000)
    size = 1 << int(np.ceil(np.log2(n + max_lag + n)))
    spec = np.fft.rfft(decoded[: n + max_lag], size) * np.conj(np.fft.rfft(ref[:n], size))
    return int(np.argmax(np.fft.irfft(spec, size)[: max_lag + 1]))


def gain_and_snr(decoded: np.ndarray, ref: np.ndarray, lag: int) -> tuple[float, float]:
    """Least-squares gain of decoded against ref at `lag`, and the SNR in dB once that gain is applied."""
    y = decoded[lag : lag + len(ref)]
    r = ref[: len(y)]
    gain = float(np.dot(y, r) / np.dot(r, r))
    noise = np.sum((y - gain * r) ** 2)
    return gain, float(10 * np.log10(np.sum((gain * r) ** 2) / max(noise, 1e-20)))


# --- container parsers -----------------------------------------------------------------------------

_MP3_BITRATES = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1 layer III
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2 layer III
}
_MP3_RATES = {1: (44100, 48000, 32000), 2: (22050, 24000, 16000)}


@dataclass(frozen=True)
class Mp3Frame:
    bitrate: int
    sample_rate: int
    mono: bool
    length: int


def mp3_frames(data: bytes, *, partial_tail: bool = False) -> list[Mp3Frame]:
    """Walks the stream frame by frame from byte 0; fails on anything that is not a layer III frame.

    `partial_tail` accepts data that stops inside a frame (LAME hands out bytes, not whole frames)
    and returns only the complete frames.
    """
    frames: list[Mp3Frame] = []
    pos = 0
    while pos < len(data):
        if partial_tail and len(data) - pos < 4:
            break
        assert len(data) - pos >= 4, f"truncated frame header at byte {pos}"
        (header,) = struct.unpack(">I", data[pos : pos + 4])
        assert header >> 21 == 0x7FF, f"no frame sync at byte {pos}"
        version = {3: 1, 2: 2}[(header >> 19) & 3]
        assert (header >> 17) & 3 == 1, "not layer III"
        bitrate = _MP3_BITRATES[version][(header >> 12) & 0xF] * 1000
        rate = _MP3_RATES[version][(header >> 10) & 3]
        padding = (header >> 9) & 1
        length = (144 if version == 1 else 72) * bitrate // rate + padding
        if partial_tail and pos + length > len(data):
            break
        frames.append(Mp3Frame(bitrate, rate, (header >> 6) & 3 == 3, length))
        pos += length
    assert partial_tail or pos == len(data), "last frame runs past the end of the data"
    return frames


def _ogg_crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return table


_OGG_CRC = _ogg_crc_table()


def ogg_crc(page: bytes) -> int:
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC[(crc >> 24) ^ byte]
    return crc


@dataclass(frozen=True)
class OggPage:
    flags: int
    granule: int
    serial: int
    sequence: int
    payload: bytes


def ogg_pages(data: bytes) -> list[OggPage]:
    """Splits an Ogg stream into pages, checking capture pattern, version and CRC of each."""
    pages = []
    pos = 0
    while pos < len(data):
        assert data[pos : pos + 4] == b"OggS", f"no page at byte {pos}"
        version, flags, granule, serial, sequence, crc, count = struct.unpack(
            "<BBqIIIB", data[pos + 4 : pos + 27]
        )
        assert version == 0
        lacing = data[pos + 27 : pos + 27 + count]
        end = pos + 27 + count + sum(lacing)
        assert end <= len(data), "truncated page"
        page = bytearray(data[pos:end])
        page[22:26] = bytes(4)
        assert ogg_crc(bytes(page)) == crc, f"bad CRC in page {sequence}"
        pages.append(OggPage(flags, granule, serial, sequence, data[pos + 27 + count : end]))
        pos = end
    return pages


def check_single_ogg_opus_stream(data: bytes) -> list[OggPage]:
    pages = ogg_pages(data)
    bos = [i for i, p in enumerate(pages) if p.flags & 0x02]
    eos = [i for i, p in enumerate(pages) if p.flags & 0x04]
    assert bos == [0], "exactly one beginning-of-stream page, and it comes first"
    assert eos == [len(pages) - 1], "exactly one end-of-stream page, and it comes last"
    assert len({p.serial for p in pages}) == 1
    assert [p.sequence for p in pages] == list(range(len(pages)))
    assert pages[0].payload.startswith(b"OpusHead")
    assert pages[1].payload.startswith(b"OpusTags")
    granules = [p.granule for p in pages[2:] if p.granule != -1]
    assert granules == sorted(granules)
    return pages


# --- expectations per format -----------------------------------------------------------------------


def frame_size(fmt: OutputFormat) -> int:
    if fmt.codec == "mp3":
        return 1152 if fmt.sample_rate >= 32000 else 576
    return 960 if fmt.codec == "opus" else 1


def min_snr_db(fmt: OutputFormat, *, noisy: bool = False) -> float:
    """Lowest SNR (after gain matching) a format may reach; a few dB below what we measured.

    Measured on the clean test signals: pcm/wav 86, G.711 37.7, mp3 23.8 (32 kbit/s at 44.1 kHz) to
    73, opus 23-37. The noisy 30 s speech-like signal costs the lossy codecs more: mp3 19.6 (32k at
    44.1 kHz) to 55, opus 21-33. Opus is perceptual rather than waveform-matching, hence its modest numbers.
    """
    if fmt.codec in ("pcm", "wav"):
        return 80.0
    if fmt.codec in ("ulaw", "alaw"):
        return 34.0
    if fmt.codec == "opus":
        return 18.0
    assert fmt.bitrate is not None
    if noisy:
        return {32000: 16.0, 48000: 19.0, 64000: 26.0}.get(fmt.bitrate, 34.0)
    return 22.0 if fmt.bitrate == 32000 else 32.0


def gain_range(fmt: OutputFormat) -> tuple[float, float]:
    if fmt.codec == "mp3":
        return 0.93, 0.98  # LAME's preset scale (0.95, or 0.97 at 192 kbit/s)
    if fmt.codec == "opus":
        return 0.95, 1.02  # 0.96 measured at 32 kbit/s on the noisy signal
    return 0.995, 1.005


def expected_length(n_in: int, rate: int) -> float:
    return n_in * rate / ENGINE_RATE


def check_duration_and_delay(decoded: Decoded, fmt: OutputFormat, n_in: int, lag: int) -> None:
    expected = expected_length(n_in, fmt.sample_rate)
    if fmt.codec == "mp3":
        assert lag == LAME_DELAY
        padding = len(decoded.samples) - LAME_DELAY - expected
        assert -1 <= padding <= frame_size(fmt)
    else:
        assert lag == 0
        assert abs(len(decoded.samples) - expected) <= 1


def check_bitrate(data: bytes, decoded: Decoded, fmt: OutputFormat, *, steady: bool) -> None:
    """`steady`: the signal's level never drops, so a VBR codec has no reason to spend less."""
    seconds = len(decoded.samples) / decoded.sample_rate
    if fmt.codec == "mp3":
        frames = mp3_frames(data)
        assert {(f.bitrate, f.sample_rate, f.mono) for f in frames} == {(fmt.bitrate, fmt.sample_rate, True)}
        assert len(frames) * frame_size(fmt) == len(decoded.samples)
        assert len(data) * 8 / seconds == pytest.approx(fmt.bitrate, rel=0.005)
    elif fmt.codec == "opus":
        pages = check_single_ogg_opus_stream(data)
        audio_bitrate = sum(len(p.payload) for p in pages[2:]) * 8 / seconds
        # Constrained VBR: close to nominal on steady sound, below it in quiet stretches, never far above.
        assert audio_bitrate <= fmt.bitrate * 1.12
        if steady:
            assert audio_bitrate >= fmt.bitrate * 0.88
        assert len(data) * 8 / seconds < fmt.bitrate * 1.25  # page headers stay a small overhead
    else:
        bytes_per_sample = 1 if fmt.codec in ("ulaw", "alaw") else 2
        header = WAV_HEADER_SIZE if fmt.codec == "wav" else 0
        assert len(data) == header + bytes_per_sample * len(decoded.samples)


# --- round trips -----------------------------------------------------------------------------------

SIGNALS = {"sweep": sweep, "voiced": voiced}


@pytest.mark.parametrize("signal_name", sorted(SIGNALS))
@pytest.mark.parametrize("name", ALL_FORMATS)
def test_round_trip(name: str, signal_name: str) -> None:
    fmt = parse_output_format(name)
    source = SIGNALS[signal_name]()
    data = encode(source, ENGINE_RATE, fmt)
    decoded = decode(data, fmt)

    assert decoded.sample_rate == fmt.sample_rate
    assert decoded.channels == 1
    ref = reference(source, fmt.sample_rate)
    lag = best_lag(decoded.samples, ref, max_lag=2 * LAME_DELAY)
    check_duration_and_delay(decoded, fmt, len(source), lag)
    check_bitrate(data, decoded, fmt, steady=signal_name == "sweep")
    gain, snr = gain_and_snr(decoded.samples, ref, lag)
    low, high = gain_range(fmt)
    assert low <= gain <= high
    assert snr >= min_snr_db(fmt)


@pytest.mark.parametrize("name", ALL_FORMATS)
def test_silence_stays_silent(name: str) -> None:
    fmt = parse_output_format(name)
    source = silence()
    decoded = decode(encode(source, ENGINE_RATE, fmt), fmt)
    assert decoded.sample_rate == fmt.sample_rate
    check_duration_and_delay(decoded, fmt, len(source), LAME_DELAY if fmt.codec == "mp3" else 0)
    # G.711 has no exact zero: its smallest code decodes to about +-8/32768.
    assert np.abs(decoded.samples).max() <= 1e-3


@pytest.mark.parametrize("name", ["pcm_24000", "pcm_44100", "wav_16000"])
def test_lossless_formats_are_sample_exact(name: str) -> None:
    fmt = parse_output_format(name)
    source = voiced(1.0)
    decoded = decode(encode(source, ENGINE_RATE, fmt), fmt)
    expected = np.rint(reference(source, fmt.sample_rate) * 32767.0)
    assert np.array_equal(np.rint(decoded.samples * 32767.0), expected)


@pytest.mark.parametrize("name", ["ulaw_8000", "alaw_8000"])
def test_g711_error_is_within_one_quantisation_step(name: str) -> None:
    fmt = parse_output_format(name)
    source = sweep(1.0)
    ref = reference(source, 8000) * 32767.0
    err = np.abs(decode(encode(source, ENGINE_RATE, fmt), fmt).samples * 32767.0 - ref)
    # G.711 steps double per segment; the step is at most 1/16 of the magnitude (plus the smallest one).
    assert np.all(err <= np.abs(ref) / 16 + 16)


def test_samples_beyond_full_scale_are_clipped_not_wrapped() -> None:
    source = np.array([0.0, 1.5, -1.5, 1.0, -1.0, 0.5, 1e6, -1e6], dtype=np.float32)
    pcm = np.frombuffer(encode(source, ENGINE_RATE, parse_output_format("pcm_24000")), "<i2")
    assert pcm.tolist() == [0, 32767, -32767, 32767, -32767, 16384, 32767, -32767]


def test_wav_file_has_exact_sizes() -> None:
    fmt = parse_output_format("wav_22050")
    source = voiced(1.0)
    data = encode(source, ENGINE_RATE, fmt)
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22050)
        frames = wav.readframes(wav.getnframes())
    assert wav.getnframes() == len(reference(source, 22050))
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    assert struct.unpack("<I", data[40:44])[0] == len(frames) == len(data) - WAV_HEADER_SIZE


def test_streamed_wav_starts_with_an_unknown_length_header() -> None:
    fmt = parse_output_format("wav_16000")
    source = voiced(1.0)
    encoder = StreamEncoder(fmt, ENGINE_RATE)
    first = encoder.write(source[:10])
    data = first + b"".join(encoder.write(p) for p in uneven_pieces(source[10:], 10)) + encoder.finish()
    assert first[:4] == b"RIFF" and first[8:16] == b"WAVEfmt "
    assert struct.unpack("<I", data[4:8])[0] == 0xFFFFFFFF
    assert data[36:40] == b"data" and struct.unpack("<I", data[40:44])[0] == 0xFFFFFFFF
    assert data[WAV_HEADER_SIZE:] == encode(source, ENGINE_RATE, fmt)[WAV_HEADER_SIZE:]
    decoded = decode(data, fmt)
    assert len(decoded.samples) == len(reference(source, 16000))


# --- streaming -------------------------------------------------------------------------------------


def speech_like(seconds: float) -> np.ndarray:
    """Voiced stretches with pauses and a little noise: 30 s of something shaped like speech."""
    rng = np.random.default_rng(3)
    signal = voiced(seconds, peak=0.5).astype(np.float64)
    t = _time(seconds)
    signal *= (np.sin(2 * np.pi * 0.23 * t) > -0.6).astype(np.float64)  # pauses
    signal += 0.01 * rng.standard_normal(len(t))
    return signal.astype(np.float32)


@pytest.fixture(scope="module")
def long_signal() -> np.ndarray:
    return speech_like(30.0)


def stream(fmt: OutputFormat, pieces: list[np.ndarray]) -> tuple[list[bytes], bytes]:
    encoder = StreamEncoder(fmt, ENGINE_RATE)
    outputs = [encoder.write(piece) for piece in pieces]
    return outputs, encoder.finish()


@pytest.mark.parametrize("name", STREAMING_FORMATS)
def test_streaming_in_uneven_pieces_matches_one_shot(name: str, long_signal: np.ndarray) -> None:
    fmt = parse_output_format(name)
    pieces = uneven_pieces(long_signal, 40)
    outputs, tail = stream(fmt, pieces)
    streamed = b"".join(outputs) + tail
    one_shot = encode(long_signal, ENGINE_RATE, fmt)

    # Bytes flow while writing: most of the stream is out before finish().
    assert len(tail) < 0.05 * len(streamed)
    assert sum(1 for out in outputs if out) >= 30

    if fmt.codec == "mp3":
        assert len(mp3_frames(streamed)) == len(mp3_frames(one_shot))
    if fmt.codec == "opus":
        check_single_ogg_opus_stream(streamed)

    a, b = decode(streamed, fmt), decode(one_shot, fmt)
    assert len(a.samples) == len(b.samples)
    # Same samples either way: chunk joins leave no trace (no gap, no click, no restart).
    assert np.max(np.abs(a.samples - b.samples)) <= 1.0 / 32767

    ref = reference(long_signal, fmt.sample_rate)
    lag = best_lag(a.samples, ref, max_lag=2 * LAME_DELAY)
    check_duration_and_delay(a, fmt, len(long_signal), lag)
    gain, snr = gain_and_snr(a.samples, ref, lag)
    low, high = gain_range(fmt)
    assert low <= gain <= high
    assert snr >= min_snr_db(fmt, noisy=True)


@pytest.mark.parametrize("name", ["pcm_22050", "pcm_8000", "ulaw_8000", "mp3_44100_128", "opus_48000_64"])
def test_no_click_at_joins(name: str) -> None:
    """A pure tone cut into pieces must decode with no sample-to-sample jump bigger than the tone's own."""
    fmt = parse_output_format(name)
    t = _time(3.0)
    tone = (0.5 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)
    outputs, tail = stream(fmt, uneven_pieces(tone, 40, seed=11))
    decoded = decode(b"".join(outputs) + tail, fmt).samples
    body = decoded[3000:-3000]  # skip codec start-up and end padding
    max_step = 0.5 * 2 * np.sin(np.pi * 220.0 / fmt.sample_rate)  # steepest step of the clean tone
    assert np.max(np.abs(np.diff(body))) <= 1.25 * max_step + 0.02


@pytest.mark.parametrize("name", STREAMING_FORMATS)
def test_first_write_already_returns_audio(name: str) -> None:
    fmt = parse_output_format(name)
    encoder = StreamEncoder(fmt, ENGINE_RATE)
    first = encoder.write(voiced(0.5))
    if fmt.codec == "mp3":
        # 0.5 s is 11-19 frames; LAME keeps a few back for its lookahead and bit reservoir.
        assert len(mp3_frames(first, partial_tail=True)) >= 5
    elif fmt.codec == "opus":
        assert first.startswith(b"OggS") and b"OpusHead" in first[:64]
        assert len(ogg_pages(first)) >= 3  # both headers and at least one audio page
    else:
        # All but the resampler's held-back tail (soxr HQ: up to 72 ms, at 24 kHz -> 8 kHz).
        bytes_per_sample = 1 if fmt.codec in ("ulaw", "alaw") else 2
        assert len(first) >= (0.5 - 0.08) * fmt.sample_rate * bytes_per_sample


@pytest.mark.parametrize("name", ["mp3_24000_48", "opus_48000_32", "pcm_16000"])
def test_encoders_share_no_state(name: str) -> None:
    """Two encoders written alternately from two threads give what each gives alone."""
    fmt = parse_output_format(name)
    signals = [voiced(2.0), sweep(2.0)]
    alone = [encode(s, ENGINE_RATE, fmt) for s in signals]

    encoders = [StreamEncoder(fmt, ENGINE_RATE) for _ in signals]
    results: list[list[bytes]] = [[], []]
    turns = [threading.Semaphore(1), threading.Semaphore(0)]

    def run(i: int) -> None:
        for piece in np.array_split(signals[i], 8):
            turns[i].acquire()
            results[i].append(encoders[i].write(piece))
            turns[1 - i].release()
        results[i].append(encoders[i].finish())

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, signal_alone in enumerate(alone):
        decoded_alone = decode(signal_alone, fmt).samples
        decoded_mixed = decode(b"".join(results[i]), fmt).samples
        assert np.array_equal(decoded_alone, decoded_mixed)


def test_finished_encoder_refuses_more_audio() -> None:
    encoder = StreamEncoder(parse_output_format("mp3_44100_128"), ENGINE_RATE)
    encoder.write(voiced(0.2))
    encoder.finish()
    with pytest.raises(RuntimeError):
        encoder.write(voiced(0.2))
    with pytest.raises(RuntimeError):
        encoder.finish()


def test_rejects_integer_and_multichannel_input() -> None:
    encoder = StreamEncoder(parse_output_format("pcm_24000"), ENGINE_RATE)
    with pytest.raises(TypeError):
        encoder.write(np.zeros(100, dtype=np.int16))
    with pytest.raises(ValueError):
        encoder.write(np.zeros((100, 2), dtype=np.float32))


def test_finish_without_audio_is_still_a_valid_stream() -> None:
    opus = StreamEncoder(parse_output_format("opus_48000_64"), ENGINE_RATE).finish()
    check_single_ogg_opus_stream(opus)
    assert len(decode(opus, parse_output_format("opus_48000_64")).samples) <= 1  # one silent sample
    wav = StreamEncoder(parse_output_format("wav_8000"), ENGINE_RATE).finish()
    assert len(wav) == WAV_HEADER_SIZE and wav.startswith(b"RIFF")


# --- resampler -------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
def test_streaming_resampler_matches_one_shot(rate: int) -> None:
    source = speech_like(3.0)
    resampler = StreamResampler(ENGINE_RATE, rate)
    parts = [resampler.process(p) for p in uneven_pieces(source, 40)]
    streamed = np.concatenate([*parts, resampler.flush()])
    one_shot = soxr.resample(source, ENGINE_RATE, rate, quality="HQ")
    assert len(streamed) == len(one_shot)
    assert np.max(np.abs(streamed - one_shot)) < 1e-6


def test_resampler_is_identity_when_rates_match() -> None:
    source = speech_like(0.5)
    resampler = StreamResampler(ENGINE_RATE, ENGINE_RATE)
    assert np.array_equal(resampler.process(source), source)
    assert len(resampler.flush()) == 0


@pytest.mark.parametrize("name", ALL_FORMATS)
def test_a_stream_that_never_got_audio_finishes_cleanly(name):
    fmt = parse_output_format(name)
    encoder = StreamEncoder(fmt, 24_000)
    # Text with nothing to say: no samples ever arrive, and finishing must not fail (LAME did).
    data = encoder.write(np.zeros(0, np.float32)) + encoder.finish()
    assert len(data) <= (WAV_HEADER_SIZE if fmt.codec == "wav" else 200)

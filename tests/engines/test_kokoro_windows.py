"""Kokoro decoded in windows: timings as whole, audio close to the whole decode, seamless and the same
whatever the partition; exact while a voice is not calibrated; statistics cached on disk."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from intone.engines import kokoro_calibration
from intone.engines.base import EngineRequest, Prepared, VoiceRealization
from intone.engines.cores import cores, granted
from intone.engines.kokoro import SAMPLES_PER_FRAME, KokoroEngine
from intone.engines.kokoro_layout import GENERATOR_INPUT, SOURCE, STYLE, UPSAMPLED
from intone.engines.voice_packs import VoicePacks, default_dir
from tests.utils.windows import join_jump, largest_jump, log_mel_distance

from .pieces import BIRCH, GLUE, build

pytestmark = pytest.mark.slow
PACKS = VoicePacks(default_dir())
HEART = VoiceRealization(packs=(("af_heart", 1.0),))
BLEND = VoiceRealization(packs=(("bm_george", 0.7), ("bm_lewis", 0.3)))
CALIBRATED = (HEART, BLEND)

# espeak-ng en-us IPA. Two short chunks (GLUE and this one) besides the birch sentence, so that the
# chunks sit at different style rows (45, 48 and 89 phoneme ids), where statistics are interpolated
# differently.
QUESTION = (
    ("What", "wˌʌt"),
    (" ", " "),
    ("time", "tˈaɪm"),
    (" ", " "),
    ("is", "ɪz"),
    (" ", " "),
    ("it", "ɪt"),
    ("?", "?"),
    (" ", " "),
    ("I", "aɪ"),
    (" ", " "),
    ("think", "θˈɪŋk"),
    (" ", " "),
    ("we", "wiː"),
    (" ", " "),
    ("should", "ʃˌʊd"),
    (" ", " "),
    ("leave", "lˈiːv"),
    (" ", " "),
    ("soon", "sˈuːn"),
    (".", "."),
)
LONG = (*BIRCH[:-1], (",", ","), (" ", " "), *GLUE)
SENTENCES = (GLUE, QUESTION, LONG)
# Measured on these chunks (docs/kokoro-windows.md): windows are 2.1-3.1 dB (log-mel) from the whole
# decode, the short chunks farthest. Ordinary context changes move the whole decode about as much: the
# same frames with another sentence in their chunk are 2.2-3.0 dB from themselves, and a chunk decoded
# with the style row of a longer one 1.6-2.8 dB. Statistics of a wrong style row measure 4-11 dB, of a
# wrong language 2.6-3.0, naive windows with their own statistics 4.5-6.6.
LOG_MEL_BOUND = 3.3


def request(pieces: tuple[tuple[str, str], ...], voice: VoiceRealization = HEART) -> EngineRequest:
    text, units = build(pieces)
    return EngineRequest(text=text, language="en", voice=voice, units=units)


def schedule(prepared: Prepared, sizes: tuple[int, ...]) -> list[tuple[int, int]]:
    """Windows of the given sizes (the last size repeating) over the whole chunk."""
    windows: list[tuple[int, int]] = []
    start = 0
    while start < prepared.frames:
        size = sizes[min(len(windows), len(sizes) - 1)]
        windows.append((start, min(prepared.frames, start + size)))
        start += size
    return windows


def windowed(engine: KokoroEngine, prepared: Prepared, windows: list[tuple[int, int]]) -> np.ndarray:
    pieces = [engine.decode(prepared, start, stop) for start, stop in windows]
    for (start, stop), piece in zip(windows, pieces, strict=True):
        assert piece.dtype == np.float32 and len(piece) == (stop - start) * SAMPLES_PER_FRAME
    return np.concatenate(pieces)


@pytest.fixture(scope="module")
def data_dir(engine_cache: Path) -> Path:
    """The run's shared engine cache: voices the servers of earlier tests calibrated are reused
    (calibrating from scratch is `test_damaged_statistics_are_measured_again`'s)."""
    return engine_cache


@pytest.fixture(scope="module")
def engine(data_dir: Path) -> KokoroEngine:
    engine = KokoroEngine(data_dir, PACKS, threads=2)
    for voice in CALIBRATED:
        engine.calibrate(voice)
        assert engine.calibrated(voice)
    return engine


@pytest.fixture(scope="module")
def chunks(engine: KokoroEngine) -> dict[tuple[int, int], tuple[Prepared, np.ndarray]]:
    """(voice, sentence) -> the prepared chunk and its whole decode from `synthesize`."""
    result = {}
    for v, voice in enumerate(CALIBRATED):
        for s, pieces in enumerate(SENTENCES):
            whole = engine.synthesize(request(pieces, voice))
            prepared = engine.prepare(request(pieces, voice))
            np.testing.assert_array_equal(prepared.char_times, whole.char_times)
            assert prepared.frames * SAMPLES_PER_FRAME == len(whole.audio)
            assert prepared.state.statistics is not None  # decoded in windows, not sliced
            result[v, s] = prepared, whole.audio
    return result


def test_windows_are_close_to_the_whole_decode(engine: KokoroEngine, chunks) -> None:
    for prepared, whole in chunks.values():
        windows = schedule(prepared, (20, 40, 80))
        audio = windowed(engine, prepared, windows)
        assert np.abs(audio).max() <= 1.0
        assert log_mel_distance(whole, audio, 24000) <= LOG_MEL_BOUND
        joins = [start * SAMPLES_PER_FRAME for start, _ in windows[1:]]
        assert join_jump(audio, joins) <= largest_jump(whole)


def test_any_partition_gives_the_same_audio(engine: KokoroEngine, chunks) -> None:
    """Windows are bit-identical to one window over the whole chunk, whatever their sizes and order."""
    for prepared, _ in (chunks[0, 0], chunks[1, 2]):
        one = engine.decode(prepared, 0, prepared.frames)
        assert np.array_equal(windowed(engine, prepared, schedule(prepared, (20, 40, 80))), one)
        assert np.array_equal(windowed(engine, prepared, schedule(prepared, (1, 7, 33, 160))), one)
        backwards = schedule(prepared, (30,))[::-1]
        pieces = {window: engine.decode(prepared, *window) for window in backwards}
        assert np.array_equal(np.concatenate([pieces[window] for window in backwards[::-1]]), one)


def test_windows_of_different_chunks_decode_at_once(engine: KokoroEngine, chunks) -> None:
    jobs = [
        (prepared, window)
        for prepared, _ in (chunks[0, 1], chunks[1, 1])
        for window in schedule(prepared, (40,))
    ]
    alone = [engine.decode(prepared, *window) for prepared, window in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda job: engine.decode(job[0], *job[1]), jobs))
    assert all(np.array_equal(a, b) for a, b in zip(alone, together, strict=True))


def test_generator_with_the_chunk_s_own_statistics_is_the_shipped_one(engine: KokoroEngine, chunks) -> None:
    """The upsampler then the cut generator, fed a chunk's own statistics, decode it bit for bit as the
    shipped model: the surgery changes where statistics come from, nothing else."""
    prepared, whole = chunks[0, 2]
    chunk = prepared.state
    layout = engine._layout
    _, *values = engine._session("measuring").run(["audio", *layout.measured()], chunk.generator_feeds())
    own = kokoro_calibration.Measurement(chunk.total, tuple(values))
    statistics = kokoro_calibration.Calibration.pool([[own]] * len(kokoro_calibration.ANCHORS), layout)
    (upsampled,) = engine._session("upsampler").run([UPSAMPLED], {GENERATOR_INPUT: chunk.generator_input})
    feeds = {UPSAMPLED: upsampled, SOURCE: chunk.source, STYLE: chunk.style}
    (audio,) = engine._session("generator").run(
        ["audio"], {**feeds, **statistics.feeds(kokoro_calibration.ANCHORS[0], layout)}
    )
    scaled = np.clip(audio[chunk.cut * SAMPLES_PER_FRAME :] * chunk.gain, -1.0, 1.0).astype(np.float32)
    assert np.array_equal(scaled, whole)


def test_an_uncalibrated_voice_decodes_exactly(engine: KokoroEngine) -> None:
    # A blend no premade voice uses, so no earlier test's server has calibrated it in the shared cache.
    voice = VoiceRealization(packs=(("am_adam", 0.6), ("am_onyx", 0.4)))
    assert not engine.calibrated(voice)
    whole = engine.synthesize(request(BIRCH, voice)).audio
    prepared = engine.prepare(request(BIRCH, voice))
    with ThreadPoolExecutor(max_workers=3) as pool:
        pieces = list(pool.map(lambda window: engine.decode(prepared, *window), schedule(prepared, (20, 40))))
    assert np.array_equal(np.concatenate(pieces), whole)


def test_a_short_chunk_decodes_exactly(engine: KokoroEngine) -> None:
    pieces = (("Oh", "ˈoʊ"), (" ", " "), ("yes", "jˈɛs"), ("!", "!"))
    whole = engine.synthesize(request(pieces)).audio
    prepared = engine.prepare(request(pieces))
    assert prepared.state.statistics is None
    assert np.array_equal(windowed(engine, prepared, schedule(prepared, (5,))), whole)


def test_empty_chunks_and_bad_windows(engine: KokoroEngine, chunks) -> None:
    for pieces in ((), (("#", "#"),)):
        prepared = engine.prepare(request(pieces))
        assert prepared.frames == 0 and prepared.char_times.shape == (len(pieces), 2)
        assert len(engine.decode(prepared, 0, 0)) == 0
    prepared, _ = chunks[0, 0]
    for start, stop in ((-1, 3), (5, 4), (0, prepared.frames + 1)):
        with pytest.raises(ValueError, match="window"):
            engine.decode(prepared, start, stop)
    with pytest.raises(ValueError, match="split"):
        engine.prepare(request((("a" * 511, "a" * 511),)))
    with pytest.raises(ValueError, match="positive"):
        engine.prepare(
            EngineRequest(text="a", language="en", voice=HEART, units=build((("a", "a"),))[1], speed=0)
        )


def test_statistics_survive_a_new_engine(engine: KokoroEngine, data_dir: Path, chunks) -> None:
    fresh = KokoroEngine(data_dir, PACKS, threads=2)
    assert all(fresh.calibrated(voice) for voice in CALIBRATED)
    for (v, s), (prepared, _) in chunks.items():
        again = fresh.prepare(request(SENTENCES[s], CALIBRATED[v]))
        assert np.array_equal(fresh.decode(again, 3, 50), engine.decode(prepared, 3, 50))


def test_damaged_statistics_are_measured_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path  # its own: this test damages what it stores
    # Three short sentences (one per anchor) keep the two calibrations this test makes cheap.
    short = tuple(sentence.split(",")[0] for sentence in kokoro_calibration.SENTENCES["en-US"][1::2])
    monkeypatch.setitem(kokoro_calibration.SENTENCES, "en-US", short)
    voice = VoiceRealization(packs=(("af_bella", 1.0),))
    first = KokoroEngine(data_dir, PACKS, threads=2)
    assert not first.calibrated(voice)
    first.calibrate(voice)
    key = kokoro_calibration.cache_key(voice.packs)  # a canonical blend already
    (stored,) = data_dir.glob(f"kokoro-*-statistics-*-{key}.npz")
    good = stored.read_bytes()
    middle = len(good) // 2
    with stored.open("r+b") as file:
        file.seek(middle)
        file.write(bytes(byte ^ 0xFF for byte in good[middle : middle + 16]))

    second = KokoroEngine(data_dir, PACKS, threads=2)
    assert not second.calibrated(voice)
    prepared = second.prepare(request(BIRCH, voice))
    assert prepared.state.statistics is None
    second.calibrate(voice)
    assert second.calibrated(voice)
    assert stored.read_bytes() == good  # measured again, deterministically


def test_a_window_granted_two_cores_decodes_the_same(data_dir: Path, chunks) -> None:
    """The scheduler may grant a due window a second core; Kokoro's sessions for it give the same
    bits, so windows decoded either way join seamlessly."""
    narrow = KokoroEngine(data_dir, PACKS, threads=1)
    prepared, _ = chunks[1, 2]
    one = narrow.decode(prepared, 0, prepared.frames)
    with granted(2):
        assert cores() == 2
        wide = narrow.prepare(request(SENTENCES[2], BLEND))
        first = narrow.decode(wide, 0, 20)
        whole = narrow.synthesize(request(GLUE, BLEND)).audio  # the measuring model, as short chunks use
    np.testing.assert_array_equal(wide.state.generator_input, prepared.state.generator_input)
    assert np.array_equal(np.concatenate([first, narrow.decode(wide, 20, wide.frames)]), one)
    assert np.array_equal(whole, narrow.synthesize(request(GLUE, BLEND)).audio)

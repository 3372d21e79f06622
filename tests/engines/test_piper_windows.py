"""Piper decoded in windows against the same chunk decoded whole (see docs/piper-windows.md).

The bounds: with the engine's contexts (each decoder stage's receptive field) windows of 10 frames
measured at least 117 dB SNR and at most 0.0002 dB log-mel distance from the whole decode, float
rounding and nothing else. Shorter contexts give 65-87 dB and 0.003-0.036 dB: 9 frames on the first
stage (at 10 the 11th frame's weight is still below rounding), 7 samples on the second, 12 on the
third. So 100 dB and 0.001 dB catch a context that falls short and leave 17 dB for rounding on other
CPUs and thread counts.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from itertools import pairwise

import numpy as np
import pytest

from intone.engines.base import EngineRequest, Prepared, VoiceRealization
from intone.engines.piper import PiperEngine
from intone.engines.registry import EngineSet
from tests.utils.windows import join_jump, largest_jump, log_mel_distance, snr_db

from .pieces import BIRCH, build

pytestmark = pytest.mark.slow

MIN_SNR_DB = 100.0
MAX_LOG_MEL_DB = 0.001
SEED = 5

GLUE = (
    ("Glue", "ɡlˈuː"),
    (" ", " "),
    ("the", "ðə"),
    (" ", " "),
    ("sheet", "ʃˈiːt"),
    (" ", " "),
    ("to", "tə"),
    (" ", " "),
    ("the", "ðə"),
    (" ", " "),
    ("dark", "dˈɑːɹk"),
    (" ", " "),
    ("blue", "blˈuː"),
    (" ", " "),
    ("background", "bˈækɡɹaʊnd"),
    (".", "."),
)
CHICKEN = (
    ("These", "ðiːz"),
    (" ", " "),
    ("days", "dˈeɪz"),
    (" ", " "),
    ("a", "ɐ"),
    (" ", " "),
    ("chicken", "tʃˈɪkɪn"),
    (" ", " "),
    ("leg", "lˈɛɡ"),
    (" ", " "),
    ("is", "ɪz"),
    (" ", " "),
    ("a", "ɐ"),
    (" ", " "),
    ("rare", "ɹˈɛɹ"),
    (" ", " "),
    ("dish", "dˈɪʃ"),
    (".", "."),
)
SENTENCES = {"birch": BIRCH, "glue": GLUE, "chicken": CHICKEN}


def make_request(pieces: tuple[tuple[str, str], ...], **settings: object) -> EngineRequest:
    text, units = build(pieces)
    base = EngineRequest(text=text, language="en", voice=VoiceRealization(), units=units, seed=SEED)
    return replace(base, **settings)


def fixed(frames: int, size: int, first: int | None = None) -> list[tuple[int, int]]:
    """Windows of `size` frames, the first one `first` frames long."""
    edges = [0, *range(first or size, frames, size), frames]
    return list(pairwise(edges))


def growing(frames: int, first: int) -> list[tuple[int, int]]:
    """Windows doubling from `first` frames, as the server schedules them."""
    edges, size = [0], first
    while edges[-1] < frames:
        edges.append(min(frames, edges[-1] + size))
        size *= 2
    return list(pairwise(edges))


SCHEMES = {
    "fixed 10": lambda frames: fixed(frames, 10),
    "fixed 20, first 3": lambda frames: fixed(frames, 20, first=3),
    "fixed 7": lambda frames: fixed(frames, 7),
    "growing from 10": lambda frames: growing(frames, 10),
    "growing from 20": lambda frames: growing(frames, 20),
}


def decode_windows(engine: PiperEngine, prepared: Prepared, windows: list[tuple[int, int]]) -> np.ndarray:
    parts = [engine.decode(prepared, start, stop) for start, stop in windows]
    for (start, stop), part in zip(windows, parts, strict=True):
        assert part.dtype == np.float32 and len(part) == (stop - start) * prepared.frame_samples
    return np.concatenate(parts)


def assert_close(whole: np.ndarray, audio: np.ndarray) -> None:
    assert len(audio) == len(whole)
    assert snr_db(whole, audio) >= MIN_SNR_DB
    assert log_mel_distance(whole, audio, 22050) <= MAX_LOG_MEL_DB


@pytest.fixture(scope="module")
def engine(engines: EngineSet) -> PiperEngine:
    piper = engines.get("piper")
    assert isinstance(piper, PiperEngine)
    return piper


@pytest.fixture(scope="module", params=list(SENTENCES))
def chunk(request: pytest.FixtureRequest, engine: PiperEngine) -> tuple[EngineRequest, Prepared, np.ndarray]:
    """A sentence's request, the request prepared, and its audio from `synthesize`."""
    req = make_request(SENTENCES[request.param])
    return req, engine.prepare(req), engine.synthesize(req).audio


def test_prepare_matches_synthesize(
    engine: PiperEngine, chunk: tuple[EngineRequest, Prepared, np.ndarray]
) -> None:
    req, prepared, whole = chunk
    np.testing.assert_array_equal(prepared.char_times, engine.synthesize(req).char_times)
    assert (prepared.sample_rate, prepared.frame_samples) == (22050, 256)
    assert prepared.frames * 256 == len(whole)
    assert engine.decode(prepared, 0, prepared.frames).tobytes() == whole.tobytes()
    assert engine.calibrated(VoiceRealization())


def test_decoder_emits_256_samples_per_frame(engine: PiperEngine) -> None:
    # Checked on the raw decoder output, before decode() cuts a window out of it.
    for req in (make_request(BIRCH, speed=0.7), make_request(BIRCH, speed=1.4), make_request(())):
        prepared = engine.prepare(req)
        signal = prepared.state
        assert signal.shape[2] == prepared.frames > 0
        for stage in engine._stages:
            (signal,) = stage.session.run(None, {stage.input: signal})
        assert signal.size == prepared.frames * 256


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_windows_match_whole(
    engine: PiperEngine, chunk: tuple[EngineRequest, Prepared, np.ndarray], scheme: str
) -> None:
    _, prepared, whole = chunk
    windows = SCHEMES[scheme](prepared.frames)
    audio = decode_windows(engine, prepared, windows)
    assert_close(whole, audio)
    joins = [start * 256 for start, _ in windows[1:]]
    assert join_jump(audio, joins) <= largest_jump(whole)


def test_partitions_agree(engine: PiperEngine, chunk: tuple[EngineRequest, Prepared, np.ndarray]) -> None:
    _, prepared, _ = chunk
    by_sevens = decode_windows(engine, prepared, fixed(prepared.frames, 7))
    assert_close(by_sevens, decode_windows(engine, prepared, growing(prepared.frames, 3)))
    # A window decodes the same wherever the partition around it falls, and the same again.
    start, stop = 30, 45
    alone = engine.decode(prepared, start, stop)
    assert_close(by_sevens[start * 256 : stop * 256], alone)
    assert alone.tobytes() == engine.decode(prepared, start, stop).tobytes()


def test_seed_reproduces_windows(engine: PiperEngine) -> None:
    first, again, other = (engine.prepare(make_request(BIRCH, seed=seed)) for seed in (11, 11, 12))
    assert first.state.tobytes() == again.state.tobytes()
    windows = growing(first.frames, 10)
    audio = decode_windows(engine, first, windows)
    assert audio.tobytes() == decode_windows(engine, again, windows).tobytes()
    assert first.state.tobytes() != other.state.tobytes()


@pytest.mark.parametrize(
    "pieces", [(), (("...", ""),), (("Oh", "ˈoʊ"), ("!", "!"))], ids=["empty", "unspoken", "one word"]
)
def test_short_chunks(engine: PiperEngine, pieces: tuple[tuple[str, str], ...]) -> None:
    req = make_request(pieces)
    prepared = engine.prepare(req)
    whole = engine.synthesize(req)
    assert 0 < prepared.frames * 256 == len(whole.audio) < 22050
    np.testing.assert_array_equal(prepared.char_times, whole.char_times)
    assert_close(whole.audio, decode_windows(engine, prepared, fixed(prepared.frames, 3)))
    assert len(engine.decode(prepared, prepared.frames, prepared.frames)) == 0
    with pytest.raises(ValueError, match="outside"):
        engine.decode(prepared, 0, prepared.frames + 1)


def test_concurrent_windows_match_sequential(engine: PiperEngine) -> None:
    chunks = [engine.prepare(make_request(pieces)) for pieces in (BIRCH, GLUE)]
    plans = [growing(prepared.frames, 10) for prepared in chunks]
    sequential = [decode_windows(engine, *pair).tobytes() for pair in zip(chunks, plans, strict=True)]
    concurrent: dict[int, bytes] = {}
    barrier = threading.Barrier(len(chunks))

    def work(index: int) -> None:
        barrier.wait()
        concurrent[index] = decode_windows(engine, chunks[index], plans[index]).tobytes()

    threads = [threading.Thread(target=work, args=(index,)) for index in range(len(chunks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [concurrent[index] for index in range(len(chunks))] == sequential

"""Piper decoded in windows against the same chunk decoded whole (see docs/piper-windows.md).

The bounds: with the engine's contexts (each decoder stage's receptive field) windows of 10 frames
measured at least 117 dB SNR and at most 0.0002 dB log-mel distance from the whole decode, float
rounding and nothing else. Shorter contexts give 65-87 dB and 0.003-0.036 dB: 9 frames on the first
stage (at 10 the 11th frame's weight is still below rounding), 7 samples on the second, 12 on the
third. The flow runs in the windows too, each coupling layer with its full reach: one frame less gives
28 dB and 0.1 dB at best. With one thread the flow's output in windows is the whole decode's bit for
bit, so windows stay at the decoder's floor (at least 115 dB over 48 chunks); with two threads some of
its runs round differently (at least 107 dB). So 100 dB and 0.001 dB catch a context that falls short
and leave 7-15 dB for rounding on other CPUs and thread counts.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from itertools import pairwise

import numpy as np
import pytest

from intone.engines.base import EngineRequest, Prepared, VoiceRealization
from intone.engines.piper import _FLOW_MASK, PiperEngine, _ones
from intone.engines.registry import EngineSet
from tests.utils.windows import join_jump, largest_jump, log_mel_distance, snr_db

from .pieces import BIRCH, GLUE, build

pytestmark = pytest.mark.slow

MIN_SNR_DB = 100.0
MAX_LOG_MEL_DB = 0.001
SEED = 5

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


def whole_latent(engine: PiperEngine, req: EngineRequest) -> np.ndarray:
    """The decoder's input z of a chunk decoded all at once."""
    prepared = engine.prepare(req)
    return engine._latent_window(prepared.state, 0, prepared.frames).copy()


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
def chunk(request: pytest.FixtureRequest, engine: PiperEngine) -> tuple[EngineRequest, np.ndarray]:
    """A sentence's request and its audio from `synthesize`. Tests prepare the request themselves: a
    prepared chunk keeps the flow's output as its windows make it, so its next windows reuse that."""
    req = make_request(SENTENCES[request.param])
    return req, engine.synthesize(req).audio


def test_prepare_matches_synthesize(engine: PiperEngine, chunk: tuple[EngineRequest, np.ndarray]) -> None:
    req, whole = chunk
    prepared = engine.prepare(req)
    np.testing.assert_array_equal(prepared.char_times, engine.synthesize(req).char_times)
    assert (prepared.sample_rate, prepared.frame_samples) == (22050, 256)
    assert prepared.frames * 256 == len(whole)
    assert engine.decode(prepared, 0, prepared.frames).tobytes() == whole.tobytes()
    assert engine.calibrated(VoiceRealization())


def test_decoder_emits_256_samples_per_frame(engine: PiperEngine) -> None:
    # Checked on the raw flow and decoder outputs, before decode() cuts a window out of them.
    for req in (make_request(BIRCH, speed=0.7), make_request(BIRCH, speed=1.4), make_request(())):
        prepared = engine.prepare(req)
        signal = prepared.state.prior
        assert signal.shape[2] == prepared.frames > 0
        for piece in engine._flow:
            (signal,) = piece.session.run(None, {piece.input: signal, _FLOW_MASK: _ones(prepared.frames)})
            assert signal.shape == (1, 192, prepared.frames)
        for stage in engine._stages:
            (signal,) = stage.session.run(None, {stage.input: signal})
        assert signal.size == prepared.frames * 256


def test_flow_reach_is_derived_from_the_graph(engine: PiperEngine) -> None:
    # Four coupling layers, each with four kernel-5 convolutions over frames: 8 frames on each side.
    assert len(engine._flow) == 4
    assert engine._flow_reach == 8


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_windows_match_whole(
    engine: PiperEngine, chunk: tuple[EngineRequest, np.ndarray], scheme: str
) -> None:
    req, whole = chunk
    prepared = engine.prepare(req)
    windows = SCHEMES[scheme](prepared.frames)
    audio = decode_windows(engine, prepared, windows)
    assert_close(whole, audio)
    joins = [start * 256 for start, _ in windows[1:]]
    assert join_jump(audio, joins) <= largest_jump(whole)


def test_partitions_agree(engine: PiperEngine, chunk: tuple[EngineRequest, np.ndarray]) -> None:
    req, whole = chunk
    prepared = engine.prepare(req)
    by_sevens = decode_windows(engine, prepared, fixed(prepared.frames, 7))
    assert_close(by_sevens, decode_windows(engine, engine.prepare(req), growing(prepared.frames, 3)))
    # A window decodes the same wherever the partition around it falls, and the same again.
    start, stop = 30, 45
    fresh = engine.prepare(req)
    alone = engine.decode(fresh, start, stop)
    assert_close(by_sevens[start * 256 : stop * 256], alone)
    assert alone.tobytes() == engine.decode(fresh, start, stop).tobytes()
    assert alone.tobytes() == engine.decode(engine.prepare(req), start, stop).tobytes()
    # Windows in any order: the flow runs on as far as the furthest window needs, and windows behind
    # that reuse what it made.
    backwards = engine.prepare(req)
    windows = fixed(prepared.frames, 20)[::-1]
    parts = {window: engine.decode(backwards, *window) for window in windows}
    assert_close(whole, np.concatenate([parts[window] for window in windows[::-1]]))


@pytest.fixture(scope="module")
def one_thread() -> PiperEngine:
    return PiperEngine(threads=1)


def test_flow_in_windows_is_exact_with_one_thread(
    one_thread: PiperEngine, chunk: tuple[EngineRequest, np.ndarray]
) -> None:
    # With one thread (the server's default) every flow run of 65 frames or more rounds as the whole
    # chunk's run, so z is the whole decode's bit for bit, whatever the windows and their order. With
    # more threads onnxruntime splits some runs' frames between threads and z matches to float rounding.
    req, _ = chunk
    whole = whole_latent(one_thread, req)
    frames = whole.shape[2]
    for windows in [*(scheme(frames) for scheme in SCHEMES.values()), fixed(frames, 20)[::-1]]:
        prepared = one_thread.prepare(req)
        context = one_thread._stages[0].context
        for start, stop in windows:  # only the flow, as decode() asks for it
            one_thread._latent_window(prepared.state, max(0, start - context), min(frames, stop + context))
        assert prepared.state.z.tobytes() == whole.tobytes()


def test_flow_reach_is_needed(engine: PiperEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    # One frame less per coupling layer misses a full-weight tap at every step of the flow (28 dB SNR at
    # best on the documented cases), so the bounds catch it.
    req = make_request(BIRCH)
    whole = engine.synthesize(req).audio
    monkeypatch.setattr(engine, "_flow_reach", engine._flow_reach - 1)
    audio = decode_windows(engine, engine.prepare(req), fixed(len(whole) // 256, 20))
    assert snr_db(whole, audio) < 40.0


def test_seed_reproduces_windows(engine: PiperEngine) -> None:
    first, again, other = (engine.prepare(make_request(BIRCH, seed=seed)) for seed in (11, 11, 12))
    assert first.state.prior.tobytes() == again.state.prior.tobytes()
    windows = growing(first.frames, 10)
    audio = decode_windows(engine, first, windows)
    assert audio.tobytes() == decode_windows(engine, again, windows).tobytes()
    assert first.state.prior.tobytes() != other.state.prior.tobytes()


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


def test_one_chunk_from_two_threads(engine: PiperEngine) -> None:
    # Not needed by the server (a chunk's windows come one after another), but the flow's state is locked.
    req = make_request(BIRCH)
    whole = engine.synthesize(req).audio
    prepared = engine.prepare(req)
    windows = fixed(prepared.frames, 10)
    parts: dict[tuple[int, int], np.ndarray] = {}
    barrier = threading.Barrier(2)

    def work(offset: int) -> None:
        barrier.wait()
        for window in windows[offset::2]:
            parts[window] = engine.decode(prepared, *window)

    threads = [threading.Thread(target=work, args=(offset,)) for offset in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert_close(whole, np.concatenate([parts[window] for window in windows]))

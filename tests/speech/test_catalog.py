import pytest

from intone.engines.base import VoiceRealization
from intone.engines.registry import EngineSet
from intone.speech.errors import ModelNotFound, VoiceNotFound
from intone.speech.models import DEFAULT_MODEL_ID, MODELS, engine_for, get_model, spoken_languages
from intone.speech.voices import VOICES, get_voice

LANGS = EngineSet.languages()


def test_seed_character_limits_and_costs():
    limits = {m: MODELS[m].character_limit for m in MODELS if MODELS[m].can_do_text_to_speech}
    assert limits["eleven_v3"] == 5_000
    assert limits["eleven_flash_v2_5"] == 40_000
    assert limits["eleven_flash_v2"] == 30_000
    assert limits["eleven_multilingual_v2"] == 10_000
    assert limits["eleven_multilingual_v1"] == 10_000
    for model_id in ("eleven_flash_v2_5", "eleven_flash_v2", "eleven_turbo_v2_5", "eleven_turbo_v2"):
        assert MODELS[model_id].cost_multiplier == 0.5
        assert MODELS[model_id].concurrency_group == "turbo"
    assert MODELS["eleven_multilingual_v2"].cost_multiplier == 1.0
    assert MODELS["eleven_multilingual_v2"].concurrency_group == "standard"


def test_default_and_unknown_models():
    assert get_model(None).model_id == DEFAULT_MODEL_ID == "eleven_multilingual_v2"
    with pytest.raises(ModelNotFound):
        get_model("eleven_imaginary_v9")


@pytest.mark.parametrize("model_id", ["scribe_v2", "music_v1", "eleven_multilingual_sts_v2", "eleven_ttv_v3"])
def test_non_tts_models_say_so(model_id):
    assert not MODELS[model_id].can_do_text_to_speech


def test_engine_choice_follows_the_tier_and_language():
    assert engine_for(MODELS["eleven_multilingual_v2"], "en", LANGS) == "kokoro"
    assert engine_for(MODELS["eleven_flash_v2_5"], "en", LANGS) == "piper"
    assert engine_for(MODELS["eleven_flash_v2_5"], "es", LANGS) == "kokoro"
    assert engine_for(MODELS["eleven_multilingual_v2"], "pl", LANGS) == "espeak"
    assert engine_for(MODELS["eleven_multilingual_v2"], "ja", LANGS) is None
    assert engine_for(MODELS["eleven_flash_v2"], "fr", LANGS) is None  # espeak speaks it; the model does not


def test_reported_languages_are_documented_and_really_spoken():
    spoken = set().union(*LANGS.values())
    for model in MODELS.values():
        langs = spoken_languages(model, LANGS)
        assert set(langs) <= set(model.documented_languages)
        assert set(langs) <= spoken
    assert spoken_languages(MODELS["eleven_flash_v2"], LANGS) == ("en",)
    assert "ja" not in spoken_languages(MODELS["eleven_multilingual_v2"], LANGS)
    assert {"en", "de", "es", "fr", "ru", "zh"} <= set(
        spoken_languages(MODELS["eleven_multilingual_v2"], LANGS)
    )


def test_voices_are_distinct_and_realized_on_every_engine():
    assert len(VOICES) >= 8
    assert len({v.voice_id for v in VOICES}) == len(VOICES)
    kokoro = {v.kokoro.packs for v in VOICES}
    espeak = {(v.espeak.variant, v.espeak.pitch) for v in VOICES}
    assert len(kokoro) == len(VOICES)
    assert len(espeak) == len(VOICES)
    for voice in VOICES:
        for engine in LANGS:
            assert isinstance(voice.realization(engine), VoiceRealization)
        assert set(voice.labels) >= {"gender", "accent", "age", "use_case"}


def test_premade_ids_and_names_resolve():
    assert get_voice("JBFqnCBsd6RMkjVDRZzb").name == "George"
    assert get_voice("21m00Tcm4TlvDq8ikWAM").name == "Rachel"
    assert get_voice("george").voice_id == "JBFqnCBsd6RMkjVDRZzb"
    with pytest.raises(VoiceNotFound):
        get_voice("nope")

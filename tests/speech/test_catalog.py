import pytest

from intone.engines.base import VoiceRealization
from intone.engines.registry import EngineSet
from intone.speech.errors import ModelNotFound, VoiceNotFound
from intone.speech.models import DEFAULT_MODEL_ID, MODELS, engine_for, get_model, spoken_languages
from intone.speech.voices import NATIVE_PACKS, catalog, get_voice

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


def test_engine_choice_skips_engines_that_cannot_sound_like_the_voice():
    rachel, brian = get_voice("Rachel"), get_voice("Brian")
    assert engine_for(MODELS["eleven_flash_v2_5"], "en", LANGS, rachel.can_use) == "kokoro"
    assert engine_for(MODELS["eleven_flash_v2_5"], "en", LANGS, brian.can_use) == "piper"
    assert engine_for(MODELS["eleven_flash_v2"], "en", LANGS, get_voice("George").can_use) == "kokoro"


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


VOICES = catalog().voices
# ElevenLabs' default voices (its current list) with their real ids.
DEFAULT_VOICES = {
    "9BWtsMINqrJLrRacOk9x": "Aria",
    "CwhRBWXzGAHq8TQ4Fs17": "Roger",
    "EXAVITQu4vr4xnSDxMaL": "Sarah",
    "FGY2WhTYpPnrIDTdsKH5": "Laura",
    "IKne3meq5aSn9XLyUdCD": "Charlie",
    "JBFqnCBsd6RMkjVDRZzb": "George",
    "N2lVS1w4EtoT3dr4eOWO": "Callum",
    "SAz9YHcvj6GT2YYXdXww": "River",
    "TX3LPaxmHKxFdv7VOQHJ": "Liam",
    "XB0fDUnXU5powFXDhCwa": "Charlotte",
    "Xb7hH8MSUJpSbSDYk0k2": "Alice",
    "XrExE9yKIg1WjnnlVkGX": "Matilda",
    "bIHbv24MWmeRgasZH58o": "Will",
    "cgSgspJ2msm6clMCkdW9": "Jessica",
    "cjVigY5qzO86Huf0OWal": "Eric",
    "iP95p4xoKVk53GoZ742B": "Chris",
    "nPczCjzI2devNBz1zQrb": "Brian",
    "onwK4e9ZLuTAKqWW03F9": "Daniel",
    "pFZP5JQG7iQjIQuC4Bku": "Lily",
    "pqHfZKP75CvOlQylNhV4": "Bill",
}


def test_the_catalog_has_every_pack_and_every_default_voice():
    assert len({v.voice_id for v in VOICES}) == len(VOICES)
    packs = [v for v in VOICES if not v.premade]
    assert len(packs) == 54
    assert {v.voice_id: v.name for v in VOICES if v.premade and not v.legacy} == DEFAULT_VOICES
    for voice in VOICES:
        for engine in LANGS:
            assert isinstance(voice.realization(engine, voice.language), VoiceRealization)
    for voice in (v for v in VOICES if v.premade):
        assert set(voice.labels) >= {"gender", "accent", "age", "use_case"}


def test_premade_voices_are_distinct_and_their_packs_match_gender_and_accent():
    premade = [v for v in VOICES if v.premade]
    assert len({v.packs for v in premade}) == len(premade)
    for voice in premade:
        leading = max(voice.packs, key=lambda pack: pack[1])[0]
        if voice.gender != "neutral":
            assert leading[1] == voice.gender[0], voice.name  # af_..., am_...: gender is the 2nd letter
        if voice.accent in ("american", "british"):
            assert leading[0] == voice.accent[0], voice.name  # a: American, b: British


def test_a_premade_voice_speaks_other_languages_with_native_packs_of_its_gender():
    george, rachel = get_voice("George"), get_voice("Rachel")
    assert george.kokoro_packs("en") == george.packs
    assert george.kokoro_packs("es") == NATIVE_PACKS[("es", "male")] == (("em_alex", 1.0),)
    assert rachel.kokoro_packs("fr") == (("ff_siwis", 1.0),)
    assert rachel.kokoro_packs("pl") == rachel.packs  # no Polish pack: her own (espeak-ng speaks Polish)
    river = get_voice("River")
    assert {pack for pack, _ in river.kokoro_packs("it")} == {"if_sara", "im_nicola"}
    # A voice named after a pack is that pack everywhere, with its accent.
    assert get_voice("ef_dora").kokoro_packs("en") == (("ef_dora", 1.0),)


def test_only_american_men_may_run_on_piper():
    assert get_voice("Brian").can_use("piper") and get_voice("am_onyx").can_use("piper")
    assert not get_voice("Rachel").can_use("piper")
    assert not get_voice("George").can_use("piper")  # British
    assert not get_voice("Callum").can_use("piper")  # transatlantic
    assert not get_voice("River").can_use("piper")


def test_british_voices_keep_british_pronunciation():
    assert get_voice("George").locale_for("en") == "en-GB"
    assert get_voice("George").locale_for("es") is None


def test_premade_ids_and_names_resolve():
    assert get_voice("JBFqnCBsd6RMkjVDRZzb").name == "George"
    assert get_voice("21m00Tcm4TlvDq8ikWAM").name == "Rachel"
    assert get_voice("george").voice_id == "JBFqnCBsd6RMkjVDRZzb"
    assert get_voice("aria").voice_id == "9BWtsMINqrJLrRacOk9x"
    assert get_voice("ARIA ").voice_id == "9BWtsMINqrJLrRacOk9x"
    assert get_voice("sarah").voice_id == "EXAVITQu4vr4xnSDxMaL"  # the premade Sarah, not af_sarah
    assert get_voice("af_sarah").name == "Sarah (en-US)"
    assert get_voice("dora (pt-br)").voice_id == "pf_dora"
    names = [voice.name.lower() for voice in VOICES]
    assert len(set(names)) == len(names)  # every voice can be reached by its name
    with pytest.raises(VoiceNotFound):
        get_voice("nope")


def test_each_voice_is_brought_to_the_common_loudness():
    from intone.engines.voice_packs import manifest
    from intone.speech.voices import LOUDNESS_DB

    nova = manifest().packs["af_nova"]
    gain = get_voice("af_nova").realization("kokoro", "en").gain
    assert gain == pytest.approx(min(10 ** ((LOUDNESS_DB - nova.loudness_db) / 20), 0.95 / nova.peak))
    assert gain > 1.5  # the quietest pack is lifted
    assert get_voice("if_sara").realization("kokoro", "it").gain < 0.7  # the loudest is lowered
    for voice in VOICES:
        realization = voice.realization("kokoro", voice.language)
        peak = sum(w * manifest().packs[p].peak for p, w in realization.packs) / sum(
            w for _, w in realization.packs
        )
        assert peak * realization.gain <= 0.95 + 1e-9
    assert get_voice("Brian").realization("piper", "en").gain == 1.0  # Piper is calibrated on its own

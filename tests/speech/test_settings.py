"""Voice settings: the defaults, and stored and per-request layers combined field by field."""

from __future__ import annotations

from intone.speech.settings import DEFAULTS, FIELDS, VoiceSettingValues, combine


def test_defaults_are_the_documented_values():
    assert DEFAULTS.as_dict() == {
        "stability": 0.5,
        "similarity_boost": 0.75,
        "style": 0.0,
        "use_speaker_boost": True,
        "speed": 1.0,
    }
    assert tuple(DEFAULTS.as_dict()) == FIELDS


def test_no_layers_give_the_defaults():
    assert combine() == DEFAULTS
    assert combine(None) == DEFAULTS
    assert combine(None, {}) == DEFAULTS


def test_a_stored_layer_overrides_the_defaults():
    stored = {
        "stability": 0.2,
        "similarity_boost": 0.1,
        "style": 0.3,
        "use_speaker_boost": False,
        "speed": 1.1,
    }
    assert combine(stored) == VoiceSettingValues(
        stability=0.2, similarity_boost=0.1, style=0.3, use_speaker_boost=False, speed=1.1
    )


def test_a_request_layer_overrides_the_stored_one_field_by_field():
    stored = {"stability": 0.2, "speed": 1.1, "use_speaker_boost": False}
    request = {"speed": 0.8, "style": 0.4}
    assert combine(stored, request) == VoiceSettingValues(
        stability=0.2,  # stored
        similarity_boost=0.75,  # default
        style=0.4,  # request
        use_speaker_boost=False,  # stored
        speed=0.8,  # request beats stored
    )


def test_none_values_do_not_override():
    stored = {"stability": 0.2, "speed": 1.1}
    request = {"stability": None, "speed": None, "similarity_boost": None, "use_speaker_boost": None}
    combined = combine(stored, request)
    assert combined.stability == 0.2
    assert combined.speed == 1.1
    assert combined.similarity_boost == 0.75
    assert combined.use_speaker_boost is True


def test_false_and_zero_do_override():
    combined = combine({"use_speaker_boost": False, "stability": 0.0, "style": 0.0})
    assert combined.use_speaker_boost is False
    assert combined.stability == 0.0


def test_unknown_keys_are_ignored():
    combined = combine({"speed": 0.9, "volume": 3.0, "model_id": "x"})  # type: ignore[dict-item]
    assert combined == VoiceSettingValues(speed=0.9)
    assert "volume" not in combined.as_dict()


def test_later_layers_win():
    assert combine({"speed": 0.8}, {"speed": 0.9}, {"speed": 1.2}).speed == 1.2
    assert combine({"speed": 0.8}, {"speed": 1.2}, {"speed": None}).speed == 1.2


def test_combining_leaves_the_defaults_alone():
    combine({"speed": 0.7, "stability": 1.0})
    assert VoiceSettingValues() == DEFAULTS
    assert DEFAULTS.speed == 1.0

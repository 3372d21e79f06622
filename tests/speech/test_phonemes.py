import itertools

import pytest

from intone.speech.phonemes import phonemize_units


def _spoken(text, units):
    return [(u.phonemes, text[u.start : u.end]) for u in units]


def test_words_spaces_and_punctuation_become_units_in_order():
    text = "The birch canoe slid on the smooth planks."
    units = phonemize_units(text, "en-us")
    pairs = _spoken(text, units)
    assert pairs[0] == ("ðə", "The")
    assert ("ɔnðə", "on the") in pairs  # espeak runs these together; one unit covers both words
    assert pairs[-1] == (".", ".")
    starts = [u.start for u in units]
    assert starts == sorted(starts)
    assert all(a.end <= b.start for a, b in itertools.pairwise(units))


def test_numbers_expanding_into_several_words_stay_with_their_word():
    text = "Hello 1990 people, in 2024!"
    pairs = dict((t, p) for p, t in _spoken(text, phonemize_units(text, "en-us")))
    assert pairs["1990"].count(" ") >= 1
    assert pairs["people"] == "pˈiːpəl"
    assert pairs["2024"].startswith("tˈuː")


def test_every_word_character_is_covered_by_a_unit():
    text = "I want to go to the park and on the way, I'll get a cup of tea."
    units = phonemize_units(text, "en-us")
    covered = set()
    for unit in units:
        covered.update(range(unit.start, unit.end))
    letters = {i for i, c in enumerate(text) if c.isalnum()}
    assert letters <= covered


@pytest.mark.parametrize("text", ["", "   ", "🎸🎸", "!!!", "Hello мир 世界 123", "x" * 600])
def test_odd_inputs_do_not_crash(text):
    units = phonemize_units(text, "en-us")
    assert all(0 <= u.start <= u.end <= len(text) for u in units)


def test_other_languages_use_their_voice():
    units = phonemize_units("Hola amigos, ¿cómo estás?", "es")
    assert any("amˈiɣos" in u.phonemes for u in units)

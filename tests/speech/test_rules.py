"""Pronunciation rules applied to marked text (plain, no engines)."""

from __future__ import annotations

import pytest

from intone.speech.errors import InvalidMarkup
from intone.speech.lexicon import AliasRule, PhonemeRule
from intone.speech.text.marked import Say, Sound, plain, written
from intone.speech.text.markup import Syntax, read_markup
from intone.speech.text.rules import apply_rules


def _said(pieces) -> str:
    """The pieces as a reader hears them: text as written, a fixed pronunciation as /phonemes/."""
    return "".join(f"/{piece.phonemes}/" if isinstance(piece, Sound) else piece.text for piece in pieces)


def test_an_alias_is_said_in_place_of_the_match_mapped_to_its_characters():
    text = "Use SQL daily."
    pieces = apply_rules(plain(text), (AliasRule("SQL", "sequel"),))
    assert _said(pieces) == "Use sequel daily."
    alias = pieces[1]
    assert alias == Say("sequel", (4, 4, 5, 5, 6, 6))  # each letter of "SQL" says two of "sequel"


def test_a_phoneme_rule_fixes_the_pronunciation_of_the_match():
    pieces = apply_rules(plain("A tomato."), (PhonemeRule("tomato", "təˈmɑːtoʊ", "ipa"),))
    assert pieces[1] == Sound("təmˈɑːtoʊ", "tomato", (2, 3, 4, 5, 6, 7))
    arpabet = apply_rules(plain("A tomato."), (PhonemeRule("tomato", "T AH0 M AA1 T OW2", "cmu-arpabet"),))
    assert arpabet[1].phonemes == "təmˈɑːtˌoʊ"


def test_word_boundaries_and_case_are_honoured():
    text = "Cat, cat, concatenate, CAT."
    assert _said(apply_rules(plain(text), (AliasRule("cat", "dog"),))) == "Cat, dog, concatenate, CAT."
    loose = AliasRule("cat", "dog", case_sensitive=False, word_boundaries=False)
    assert _said(apply_rules(plain(text), (loose,))) == "dog, dog, condogenate, dog."


def test_a_rule_for_a_word_with_symbols_matches_it_whole():
    rules = (AliasRule("C++", "see plus plus"), AliasRule(".NET", "dot net"))
    assert (
        _said(apply_rules(plain("C++ and .NET, not C++x."), rules)) == "see plus plus and dot net, not C++x."
    )


def test_the_first_rule_that_matches_wins():
    rules = (
        AliasRule("New York", "the big apple"),
        AliasRule("York", "Yorkshire"),
        PhonemeRule("New", "njuː", "ipa"),
    )
    assert _said(apply_rules(plain("New York, York, New"), rules)) == "the big apple, Yorkshire, /njuː/"
    reordered = (rules[1], rules[0], rules[2])
    assert _said(apply_rules(plain("New York"), reordered)) == "/njuː/ Yorkshire"


def test_rules_leave_tags_alone():
    text = 'Say <phoneme alphabet="ipa" ph="təˈmeɪtoʊ">tomato</phoneme> or tomato <break time="1s"/>.'
    marked = read_markup(text, Syntax())
    pieces = apply_rules(marked, (AliasRule("tomato", "tomahto"), AliasRule("break", "pause")))
    assert _said(pieces) == 'Say /təmˈeɪtoʊ/ or tomahto <break time="1s"/>.'
    assert written(pieces) == "Say tomato or tomahto ."


def test_an_empty_alias_silences_the_match_and_no_rules_change_nothing():
    assert _said(apply_rules(plain("um, well"), (AliasRule("um", ""),))) == ", well"
    assert apply_rules(plain("um"), ()) == plain("um")


def test_a_phoneme_rule_that_cannot_be_read_is_a_400():
    with pytest.raises(InvalidMarkup, match="rule for 'x'"):
        apply_rules(plain("x"), (PhonemeRule("x", "ZZ9", "cmu-arpabet"),))

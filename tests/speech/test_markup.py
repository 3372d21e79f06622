"""Reading tags into marked text (plain, no engines): breaks, phoneme tags, eleven_v3 audio tags, the
errors for tags that cannot be read, and what the socket buffer must hold back."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intone.api.errors import speech_error_status
from intone.speech.errors import InvalidMarkup
from intone.speech.text.marked import Pause, Say, Sound
from intone.speech.text.markup import (
    AUDIO_TAG_PAUSES,
    MAX_AUDIO_TAG,
    MAX_BREAK_SECONDS,
    MAX_TAG,
    Syntax,
    held_back,
    read_markup,
)

SSML = Syntax(ssml=True)
V3 = Syntax(ssml=True, audio_tags=True)


def _covers_request_text(text: str, pieces) -> None:
    """Every piece's characters are the request text's, in order."""
    sources = [index for piece in pieces for index in piece.source]
    assert sources == sorted(set(sources))
    for piece in pieces:
        assert "".join(text[i] for i in piece.source) == piece.text


@pytest.mark.parametrize(
    ("tag", "seconds"),
    [
        ('<break time="1.5s" />', 1.5),
        ('<break time="1.5s"/>', 1.5),
        ('<break time="500ms" />', 0.5),
        ("<break time='250ms'/>", 0.25),
        ('<BREAK TIME="2S">', 2.0),
        ('<break time=".5s" />', 0.5),
        ('<break time="0s"/>', 0.0),
        ('<break time="4.5s" />', MAX_BREAK_SECONDS),  # clamped: ElevenLabs pauses up to 3 s
        ('<break time="10000ms"/>', MAX_BREAK_SECONDS),
    ],
)
def test_a_break_is_a_pause_in_place_of_its_tag(tag, seconds):
    text = f"One.{tag} Two."
    pieces = read_markup(text, SSML)
    assert pieces == (
        Say("One.", (0, 1, 2, 3)),
        Pause(seconds, tag, tuple(range(4, 4 + len(tag)))),
        Say(" Two.", tuple(range(4 + len(tag), len(text)))),
    )


def test_a_phoneme_tag_pronounces_its_word_whose_characters_it_keeps():
    text = 'I say <phoneme alphabet="ipa" ph="təˈmɑːtoʊ">tomato</phoneme>, you say tomato.'
    say, sound, rest = read_markup(text, SSML)
    assert say == Say("I say ", tuple(range(6)))
    assert sound.phonemes == "təmˈɑːtoʊ" and sound.text == "tomato"
    assert text[sound.source[0] : sound.source[-1] + 1] == "tomato"
    assert rest.text == ", you say tomato."
    _covers_request_text(text, (say, sound, rest))


def test_an_arpabet_phoneme_tag_is_spoken_as_ipa():
    (sound,) = read_markup('<phoneme alphabet="cmu-arpabet" ph="M AE1 D IH0 S AH0 N">Madison</phoneme>', SSML)
    assert sound == Sound("mˈædɪsən", "Madison", tuple(range(57, 64)))


def test_other_angle_brackets_are_text():
    text = "if a < b and <b>bold</b> or <breakfast> or <br/>"
    assert read_markup(text, SSML) == (Say(text, tuple(range(len(text)))),)


def test_without_ssml_tags_are_text():
    text = 'Wait <break time="1s"/> here [laughs].'
    assert read_markup(text, Syntax(ssml=False)) == (Say(text, tuple(range(len(text)))),)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('<phoneme alphabet="ipa" ph="tə">tomato', "never closed"),
        ('<phoneme alphabet="ipa" ph="tə">tomato</phonem>', "never closed"),
        ('<phoneme alphabet="klingon" ph="tə">tomato</phoneme>', "alphabet"),
        ('<phoneme ph="tə">tomato</phoneme>', "alphabet"),
        ('<phoneme alphabet="ipa">tomato</phoneme>', "ph attribute"),
        ('<phoneme alphabet="ipa" ph="">tomato</phoneme>', "no phonemes"),
        ('<phoneme alphabet="ipa" ph="...">tomato</phoneme>', "no phonemes"),
        ('<phoneme alphabet="cmu-arpabet" ph="T AH0 Q1">x</phoneme>', "'Q1' is not"),
        ('<phoneme alphabet="cmu-arpabet" ph="T1 AH0">x</phoneme>', "'T1' is not"),
        (
            '<phoneme alphabet="ipa" ph="a"><phoneme alphabet="ipa" ph="b">x</phoneme></phoneme>',
            "another tag",
        ),
        ('<phoneme alphabet="ipa" ph="a">x <break time="1s"/></phoneme>', "another tag"),
        ('<phoneme alphabet="ipa" ph="a"></phoneme>', "no word"),
        ('<phoneme alphabet="ipa" ph="a"/>', "no word"),
        ('<phoneme alphabet="ipa" ph="a" voice="x">a</phoneme>', "attribute 'voice'"),
        ("</phoneme> tomato", "closes no"),
        ("<break/>", "needs a time"),
        ('<break time="soon"/>', "needs a time"),
        ('<break time="-1s"/>', "needs a time"),
        ('<break time="1s" strength="weak"/>', "attribute 'strength'"),
        ('<break time="1s" time="2s"/>', "twice"),
        ("<break time=1s/>", "not a complete tag"),
        ('<break time="1s"', "not a complete tag"),
    ],
)
def test_a_tag_that_cannot_be_read_is_a_400(text, problem):
    with pytest.raises(InvalidMarkup, match=problem) as raised:
        read_markup(f"Say {text} now.", SSML)
    assert speech_error_status(raised.value) == 400
    assert "at character 4" in raised.value.message


def test_v3_audio_tags_are_never_spoken_and_pauses_pause():
    text = "[laughs] Oh no. [short pause] [WHISPERS] It [pause] is [long  pause] late."
    pieces = read_markup(text, V3)
    assert "".join(p.text for p in pieces if isinstance(p, Say)) == " Oh no.   It  is  late."
    assert [p.seconds for p in pieces if isinstance(p, Pause)] == [
        AUDIO_TAG_PAUSES["short pause"],
        AUDIO_TAG_PAUSES["pause"],
        AUDIO_TAG_PAUSES["long pause"],
    ]
    _covers_request_text(text, pieces)


def test_brackets_that_open_no_audio_tag_are_text():
    long = "x" * (MAX_AUDIO_TAG + 1)
    text = f"a [b\nc] d [{long}] e [] f [open"
    assert read_markup(text, V3) == (Say(text, tuple(range(len(text)))),)


def test_v3_reads_breaks_and_phonemes_too():
    pieces = read_markup('[sighs] Fine.<break time="1s"/>', V3)
    assert [type(piece) for piece in pieces] == [Say, Pause]


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("Hello there ", []),
        ("Hello <", [(6, None)]),
        ("Hello <br", [(6, None)]),
        ("Hello </phon", [(6, None)]),
        ('Hello <break time="1', [(6, None)]),
        ('Hello <break time="1s"/> more', [(6, 24)]),
        ('x <phoneme alphabet="ipa" ph="a">wo', [(2, None)]),
        ('x <phoneme alphabet="ipa" ph="a">word</phon', [(2, None)]),
        ('x <phoneme alphabet="ipa" ph="a">word</phoneme> y', [(2, 47)]),
        ("a < b <p", [(6, None)]),  # "< b" is no tag; "<p" may still become "<phoneme"
        ("a <b> c", []),
    ],
)
def test_held_back_finds_tags_and_a_tag_still_arriving(text, spans):
    assert held_back(text, SSML) == spans


def test_held_back_audio_tags_only_on_v3():
    assert held_back("so [laug", V3) == [(3, None)]
    assert held_back("so [laughs] and", V3) == [(3, 11)]
    assert held_back("so [laug", SSML) == []
    assert held_back("so [a\nb", V3) == []  # a line break ends any hope of a tag


def test_held_back_stops_waiting_for_a_tag_too_long_to_be_one():
    assert held_back("<phoneme " + "x" * MAX_TAG, SSML) == []
    assert held_back("[" + "x" * (MAX_AUDIO_TAG + 1), V3) == []


_PIECES = st.sampled_from(
    [
        "<",
        ">",
        "/",
        "=",
        '"',
        "'",
        "[",
        "]",
        " ",
        "\n",
        "break",
        "phoneme",
        " time=",
        " alphabet=",
        " ph=",
        '"1s"',
        '"ipa"',
        '"a"',
        "ipa",
        "pause",
        "laughs",
        "word",
        "é",
        "😀",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join), st.booleans())
def test_any_text_is_read_or_refused_never_broken(text, audio_tags):
    syntax = Syntax(ssml=True, audio_tags=audio_tags)
    try:
        pieces = read_markup(text, syntax)
    except InvalidMarkup:
        pass
    else:
        _covers_request_text(text, pieces)
    for start, end in held_back(text, syntax):
        assert 0 <= start < (len(text) if end is None else end) <= len(text)

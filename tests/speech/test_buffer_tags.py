"""The stream-input text buffer with markup on: a segment edge never cuts a tag, a tag still arriving is
held back until it is whole, and a flush hands it out as it is."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intone.speech.text.buffer import TextBuffer
from intone.speech.text.markup import Syntax, held_back

SSML = Syntax(ssml=True)
V3 = Syntax(ssml=True, audio_tags=True)
SCHEDULE = (50,)
WORDS = "the quick brown fox jumps over a lazy dog while seven engineers measure it "


def _feed(buffer: TextBuffer, pieces: list[str]) -> list[str]:
    segments = []
    for piece in pieces:
        segments += buffer.add(piece)
    rest = buffer.flush()
    return [*segments, *([rest] if rest else [])]


def _no_tag_cut(segments: list[str], syntax: Syntax) -> None:
    for segment in segments:
        assert all(end is not None for _, end in held_back(segment, syntax)), segment


@pytest.mark.parametrize(
    "tag",
    [
        '<break time="1.5s" />',
        '<phoneme alphabet="ipa" ph="təˈmɑːtoʊ">to mato</phoneme>',
        '<phoneme alphabet="cmu-arpabet" ph="T AH0 M EY1 T OW2">tomato</phoneme>',
    ],
)
@pytest.mark.parametrize("step", [1, 2, 3, 7])
def test_a_tag_split_across_messages_is_joined(tag, step):
    text = WORDS + tag + " " + WORDS + tag + " " + WORDS
    pieces = [text[i : i + step] for i in range(0, len(text), step)]
    segments = _feed(TextBuffer(SCHEDULE, syntax=SSML), pieces)
    assert "".join(segments) == text
    assert sum(segment.count(tag) for segment in segments) == 2
    assert len(segments) > 3  # still segmented as the schedule says
    _no_tag_cut(segments, SSML)


def test_without_markup_a_tag_is_cut_like_any_text():
    tag = '<phoneme alphabet="ipa" ph="a">to mato</phoneme>'
    text = "x" * 40 + " " + tag + " " + WORDS
    segments = _feed(TextBuffer(SCHEDULE), [text])
    assert not any(tag in segment for segment in segments)


@pytest.mark.parametrize("step", [1, 4])
def test_a_v3_audio_tag_is_joined(step):
    text = WORDS + "[short pause] " + WORDS + "[laughs] " + WORDS
    pieces = [text[i : i + step] for i in range(0, len(text), step)]
    segments = _feed(TextBuffer(SCHEDULE, syntax=V3), pieces)
    assert "".join(segments) == text
    assert any("[short pause]" in segment for segment in segments)
    assert any("[laughs]" in segment for segment in segments)
    _no_tag_cut(segments, V3)


def test_an_unfinished_tag_is_held_until_it_closes():
    buffer = TextBuffer(SCHEDULE, syntax=SSML)
    words = "x" * 45 + " "
    # The schedule's cut would fall after "<break ", inside the tag: it falls before it instead.
    assert buffer.add(words + '<break time="1') == [words]
    assert buffer.pending == '<break time="1'
    assert buffer.add("s") == []
    segments = buffer.add('"/> and then some more words to pass the schedule again ')
    assert segments and segments[0].startswith('<break time="1s"/> and')


def test_a_trigger_does_not_hand_out_half_a_tag():
    buffer = TextBuffer((500,), syntax=SSML)
    words = "some words " * 5
    assert buffer.add(words + '<phoneme alphabet="ipa" ph="a">to ma') == []
    assert buffer.trigger() == [words]
    assert buffer.pending.startswith("<phoneme")


def test_a_flush_hands_out_a_tag_that_never_finished_as_it_is():
    buffer = TextBuffer(SCHEDULE, syntax=V3)
    text = "[laughs and this bracket never closes, not for a while"
    assert len(text) >= SCHEDULE[0]
    assert buffer.add(text) == []
    assert buffer.flush() == text


def test_a_tag_that_never_finishes_is_not_waited_for_forever():
    buffer = TextBuffer(SCHEDULE, syntax=V3)
    segments = buffer.add("[" + "word " * 20)  # longer than any audio tag
    assert segments and segments[0].startswith("[word")


_FRAGMENTS = st.sampled_from(
    [
        "word ",
        "other words, ",
        "end. ",
        '<break time="1s"/> ',
        '<phoneme alphabet="ipa" ph="a b">two words</phoneme> ',
        "[laughs] ",
        "[short pause]",
        "<",
        "[",
        "a < b ",
        "x" * 70,
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(_FRAGMENTS, max_size=25).map("".join),
    st.lists(st.integers(1, 40), min_size=1, max_size=10),
    st.booleans(),
)
def test_streamed_markup_is_handed_out_whole_and_never_lost(text, steps, trigger):
    buffer = TextBuffer(SCHEDULE, syntax=V3)
    segments, position, index = [], 0, 0
    while position < len(text):
        step = steps[index % len(steps)]
        segments += buffer.add(text[position : position + step])
        if trigger:
            segments += buffer.trigger()
        position, index = position + step, index + 1
    rest = buffer.flush()
    everything = [*segments, *([rest] if rest else [])]
    # All of it, in order; only whitespace standing alone between segments is dropped.
    assert "".join("".join(everything).split()) == "".join(text.split())
    tags = [(start, end) for start, end in held_back(text, V3) if end is not None]
    position = 0
    for segment in everything:
        position = text.index(segment, position) + len(segment)
        assert not any(start < position < end for start, end in tags), (segment, text)

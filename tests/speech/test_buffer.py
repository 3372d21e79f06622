"""Tests for the stream-input text buffer: schedule, trigger, flush, auto mode, the cap, and that no text
is ever lost or duplicated."""

from __future__ import annotations

import math
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intone.speech.text.buffer import (
    DEFAULT_SCHEDULE,
    MAX_PENDING,
    SCHEDULE_RANGE,
    TRIGGER_MINIMUM,
    InvalidSchedule,
    TextBuffer,
    check_schedule,
)

_SAMPLE = (
    "the quick brown fox jumps over a lazy dog while seven curious engineers quietly measure latency "
    "across several noisy networks before lunch and nobody complains about throughput"
)
_WORDS = tuple(_SAMPLE.split())


def _paragraph(words: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(_WORDS) for _ in range(words)]


def _threshold(schedule: tuple[int, ...], index: int) -> int:
    return schedule[min(index, len(schedule) - 1)]


# check_schedule


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([120, 160, 250, 290], (120, 160, 250, 290)),
        ((50,), (50,)),
        ([500], (500,)),
        ([120.0, 50.0], (120, 50)),
        ([50.2, 499.5], (51, 500)),  # a fractional minimum needs the next whole character
        ([300, 100], (300, 100)),  # the docs ask for no order
    ],
)
def test_check_schedule_accepts_numbers_in_range(values, expected):
    assert check_schedule(values) == expected


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ([49], "[0] is 49"),
        ([501], "[0] is 501"),
        ([49.9], "[0] is 49.9"),
        ([500.01], "[0] is 500.01"),
        ([120, "a"], "[1] is 'a'"),
        ([120, 160, None], "[2] is None"),
        ([True], "[0] is True"),
        ([math.nan], "[0] is nan"),
        ([math.inf], "[0] is inf"),
        ([120, [50]], "[1] is [50]"),
    ],
)
def test_check_schedule_names_the_bad_item(values, named):
    with pytest.raises(InvalidSchedule, match=re.escape(named)) as error:
        check_schedule(values)
    assert f"{SCHEDULE_RANGE[0]} to {SCHEDULE_RANGE[1]}" in str(error.value)


@pytest.mark.parametrize(
    ("values", "message"), [([], "empty"), ((), "empty"), ("120", "list"), (120, "list")]
)
def test_check_schedule_rejects_empty_and_non_lists(values, message):
    with pytest.raises(InvalidSchedule, match=message):
        check_schedule(values)


def test_invalid_schedule_is_a_value_error_and_rejected_by_the_buffer():
    assert issubclass(InvalidSchedule, ValueError)
    with pytest.raises(InvalidSchedule):
        TextBuffer([49])
    with pytest.raises(InvalidSchedule):
        TextBuffer([])


def test_defaults():
    assert DEFAULT_SCHEDULE == (120, 160, 250, 290)
    assert SCHEDULE_RANGE == (50, 500)
    assert TRIGGER_MINIMUM == 50
    assert SCHEDULE_RANGE[1] < MAX_PENDING


# the schedule


def test_nothing_is_handed_out_below_the_first_threshold():
    buffer = TextBuffer([50])
    assert buffer.add("a" * 44 + " bcd ") == []
    assert buffer.pending == "a" * 44 + " bcd "
    assert buffer.add("e") == ["a" * 44 + " bcd "]  # due at 50; "e" may be the start of a word
    assert buffer.pending == "e"


def test_a_single_word_is_handed_out_only_once_it_is_complete():
    buffer = TextBuffer([50])
    assert buffer.add("a" * 49) == []
    assert buffer.add("b") == []
    assert buffer.add(" ") == ["a" * 49 + "b "]
    assert buffer.pending == ""


def test_a_segment_that_reaches_its_threshold_mid_word_leaves_the_partial_word_buffered():
    buffer = TextBuffer([50])
    assert buffer.add("a" * 45 + " ") == []
    assert buffer.add("unfinis") == ["a" * 45 + " "]
    assert buffer.pending == "unfinis"
    assert buffer.add("hed ") == []
    assert buffer.flush() == "unfinished "


def test_the_whole_whitespace_run_goes_with_the_segment():
    buffer = TextBuffer([50])
    assert buffer.add("a" * 48 + " \n\n  next") == ["a" * 48 + " \n\n  "]
    assert buffer.pending == "next"


def test_token_by_token_streaming_follows_the_default_schedule():
    # LLM tokens carry their leading space: each segment is due mid-word and ends just before it
    words = _paragraph(400)
    buffer = TextBuffer()
    segments: list[str] = []
    for word in words:
        segments += buffer.add(" " + word)
    longest = max(len(word) for word in _WORDS)
    assert len(segments) >= 6
    for index, segment in enumerate(segments):
        threshold = _threshold(DEFAULT_SCHEDULE, index)
        assert threshold - longest <= len(segment) <= threshold, (index, len(segment))
        assert segment.endswith(" ")
    assert "".join(segments) + buffer.pending == "".join(" " + word for word in words)


def test_chunks_ending_in_a_space_give_segments_of_at_least_the_scheduled_length():
    words = _paragraph(400, seed=5)
    buffer = TextBuffer()
    segments: list[str] = []
    for word in words:
        segments += buffer.add(word + " ")
    longest = max(len(word) for word in _WORDS) + 1
    for index, segment in enumerate(segments):
        threshold = _threshold(DEFAULT_SCHEDULE, index)
        assert threshold <= len(segment) < threshold + longest, (index, len(segment))


def test_one_large_add_is_handed_out_in_scheduled_segments():
    text = " ".join(_paragraph(120)) + " "
    assert len(text) > 600
    buffer = TextBuffer([120, 160, 250])
    segments = buffer.add(text[:600])
    assert [len(segment) // 10 for segment in segments] == [12, 16, 25]
    for index, segment in enumerate(segments):
        assert segment.endswith(" ") and not segment[0].isspace()
        assert len(segment) - len(segment.split()[-1]) - 1 < _threshold((120, 160, 250), index)
    assert "".join(segments) + buffer.pending == text[:600]
    assert len(buffer.pending) < 250


def test_the_last_schedule_value_repeats():
    buffer = TextBuffer([50, 60])
    segments = buffer.add("abcd " * 100)
    assert [len(segment) for segment in segments] == [50] + [60] * 7
    assert buffer.pending == "abcd " * 6


def test_a_word_longer_than_the_threshold_goes_whole():
    buffer = TextBuffer([50])
    long_word = "x" * 80
    assert buffer.add(long_word) == []
    assert buffer.add(" and") == [long_word + " "]


def test_text_without_whitespace_waits_for_the_flush():
    buffer = TextBuffer([50])
    text = "x" * (MAX_PENDING - 1)
    for start in range(0, len(text), 7):
        assert buffer.add(text[start : start + 7]) == []
    assert buffer.trigger() == []
    assert buffer.flush() == text
    assert buffer.pending == ""


def test_whitespace_alone_is_never_handed_out():
    buffer = TextBuffer([50])
    assert buffer.add(" ") == []
    assert buffer.trigger() == []
    assert buffer.add(" \n\t " * 30) == []
    assert buffer.trigger() == []
    assert buffer.flush() is None
    assert buffer.pending == ""


def test_leading_whitespace_stays_with_the_first_word():
    # the first stream-input message is " "; it is kept so that no text is ever lost
    buffer = TextBuffer([50])
    buffer.add(" ")
    segments = buffer.add("word " * 10)
    assert segments == [" " + "word " * 10]


def test_add_of_nothing_does_nothing():
    buffer = TextBuffer([50])
    buffer.add("some text")
    assert buffer.add("") == []
    assert buffer.pending == "some text"


# the hard cap


def test_the_cap_cuts_text_without_whitespace():
    buffer = TextBuffer([50])
    segments: list[str] = []
    for _ in range(500):
        segments += buffer.add("xxxxxxx")
    assert segments == ["x" * MAX_PENDING] * (3500 // MAX_PENDING)
    assert buffer.pending == "x" * (3500 % MAX_PENDING)


@pytest.mark.parametrize(
    ("before", "cluster"),
    [
        (1, "e\u0301"),  # e + combining acute accent
        (1, "a\u0301\u0302"),  # two combining marks
        (2, "a\u0301\u0302"),
        (1, "👍🏽"),  # emoji + skin tone modifier
        (1, "👩\u200d👧"),  # zero width joiner sequence: not at the joiner, not after it
        (2, "👩\u200d👧"),
        (1, "❤\ufe0f"),  # variation selector
        (1, "🇩🇪"),  # a flag is a pair of regional indicators...
        (1, "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"),  # a tag sequence
        (1, "\ud83d\ude00"),  # a surrogate pair left unjoined in the string
        (1, "क्"),  # consonant + virama
    ],
)
def test_the_cap_never_cuts_inside_a_grapheme_cluster(before, cluster):
    # `cluster` starts `before` characters before the cap: the text up to it goes, the cluster stays whole
    text = "x" * (MAX_PENDING - before) + cluster + "yyy"
    buffer = TextBuffer([50])
    assert buffer.add(text) == ["x" * (MAX_PENDING - before)]
    assert buffer.pending == cluster + "yyy"


def test_the_cap_keeps_flags_paired():
    # ...so in a run of them the cut falls between pairs
    text = "x" * (MAX_PENDING - 3) + "🇫🇷🇩🇪" + "yyy"
    buffer = TextBuffer([50])
    assert buffer.add(text) == ["x" * (MAX_PENDING - 3) + "🇫🇷"]
    assert buffer.pending == "🇩🇪yyy"


def test_the_cap_cuts_a_cluster_longer_than_itself_anyway():
    buffer = TextBuffer([50])
    segments = buffer.add("a" + "\u0301" * (MAX_PENDING + 10))
    assert [len(segment) for segment in segments] == [MAX_PENDING]
    assert len(buffer.pending) == 11


def test_the_cap_prefers_a_word_boundary():
    # auto mode ignores the schedule, so words pile up until a sentence ends or the cap is reached
    buffer = TextBuffer(auto_mode=True)
    text = "word " * 500
    segments = buffer.add(text)
    assert [len(segment) for segment in segments] == [MAX_PENDING]
    assert segments[0].endswith(" ")
    assert "".join(segments) + buffer.pending == text


def test_a_huge_run_of_whitespace_is_dropped():
    buffer = TextBuffer([50])
    assert buffer.add(" " * (MAX_PENDING + 500)) == []
    assert buffer.pending == ""
    assert buffer.add("Hello") == []
    assert buffer.flush() == "Hello"


def test_no_segment_exceeds_the_cap_even_from_a_huge_add():
    buffer = TextBuffer([500])
    segments = buffer.add("y" * 3 * MAX_PENDING + " end")
    assert [len(segment) for segment in segments] == [MAX_PENDING] * 3
    assert buffer.pending == " end"


# try_trigger_generation


def test_trigger_below_the_minimum_does_nothing():
    buffer = TextBuffer()
    text = "a" * (TRIGGER_MINIMUM - 3) + " b "
    buffer.add(text)
    assert len(text) == TRIGGER_MINIMUM
    buffer2 = TextBuffer()
    buffer2.add(text[:-1])
    assert buffer2.trigger() == []
    assert buffer2.pending == text[:-1]
    assert buffer.trigger() == [text]


def test_trigger_hands_out_complete_words_only():
    buffer = TextBuffer()
    buffer.add("Hello there, this sentence is long enough to trigger on its ow")
    assert buffer.trigger() == ["Hello there, this sentence is long enough to trigger on its "]
    assert buffer.pending == "ow"
    assert buffer.trigger() == []


def test_trigger_without_a_word_boundary_does_nothing():
    buffer = TextBuffer()
    buffer.add("   " + "x" * 100)
    assert buffer.trigger() == []
    assert buffer.pending == "   " + "x" * 100


def test_trigger_advances_the_schedule():
    buffer = TextBuffer([300, 60])
    buffer.add("word " * 12)
    assert buffer.trigger() == ["word " * 12]
    assert buffer.add("word " * 12) == ["word " * 12]  # now due at 60, not 300


def test_the_python_sdk_pattern_waits_for_the_flush_when_short():
    # convert_realtime: schedule [50], first message " ", try_trigger_generation on every message
    buffer = TextBuffer([50])
    segments: list[str] = []
    for chunk in (" ", "Hello there, ", "how are ", "you today? "):
        segments += buffer.add(chunk)
        segments += buffer.trigger()
    assert segments == []
    assert buffer.flush() == " Hello there, how are you today? "


def test_the_python_sdk_pattern_on_a_long_answer():
    words = _paragraph(300, seed=11)
    buffer = TextBuffer([50])
    segments = buffer.add(" ") + buffer.trigger()
    for word in words:
        segments += buffer.add(word + " ")
        segments += buffer.trigger()
    rest = buffer.flush()
    longest = max(len(word) for word in _WORDS) + 1
    assert all(50 <= len(segment) < 50 + longest and segment.endswith(" ") for segment in segments)
    assert "".join(segments) + (rest or "") == " " + "".join(word + " " for word in words)


# flush


def test_flush_hands_out_a_partial_word():
    buffer = TextBuffer()
    assert buffer.add("Hello wor") == []
    assert buffer.flush() == "Hello wor"
    assert buffer.pending == ""
    assert buffer.flush() is None


def test_flush_of_whitespace_is_none_and_empties_the_buffer():
    buffer = TextBuffer()
    buffer.add("  \n ")
    assert buffer.flush() is None
    assert buffer.pending == ""


def test_flush_restarts_the_schedule():
    buffer = TextBuffer([50, 300])
    assert buffer.add("word " * 10) == ["word " * 10]
    buffer.add("tail")
    assert buffer.flush() == "tail"
    assert buffer.add("word " * 10) == ["word " * 10]  # due at 50 again, not 300


# auto mode


def test_auto_mode_hands_out_each_sentence_at_once():
    buffer = TextBuffer(auto_mode=True)
    assert buffer.add("Hi. ") == ["Hi. "]
    assert buffer.add("How are you? I am fine! And") == ["How are you? ", "I am fine! "]
    assert buffer.pending == "And"


def test_auto_mode_waits_until_the_sentence_end_is_certain():
    buffer = TextBuffer(auto_mode=True)
    assert buffer.add("It costs 3.") == []
    assert buffer.add("5 dollars.") == []
    assert buffer.add(" Then") == ["It costs 3.5 dollars. "]


@pytest.mark.parametrize(
    ("text", "segment"),
    [
        ('He said "Stop." Then', 'He said "Stop." '),
        ("Really?! Yes", "Really?! "),
        ("Wait… what", "Wait… "),
        ("Done.\nNext", "Done.\n"),
        ("(Aside.) More", "(Aside.) "),
    ],
)
def test_auto_mode_sentence_ends(text, segment):
    buffer = TextBuffer(auto_mode=True)
    assert buffer.add(text) == [segment]
    assert buffer.pending == text[len(segment) :]


def test_auto_mode_cjk_sentence_ends_need_no_whitespace():
    buffer = TextBuffer(auto_mode=True)
    assert buffer.add("你好。") == []  # a closing quote or more punctuation may follow
    assert buffer.add("今天天气很好！") == ["你好。"]
    assert buffer.add("」") == []
    assert buffer.add("他说") == ["今天天气很好！」"]
    assert buffer.add("？ 好") == ["他说？ "]
    assert buffer.pending == "好"


def test_auto_mode_ignores_the_schedule():
    buffer = TextBuffer([50], auto_mode=True)
    text = "words without any end " * 20
    assert buffer.add(text) == []
    assert buffer.pending == text


def test_auto_mode_still_triggers_and_flushes():
    buffer = TextBuffer(auto_mode=True)
    buffer.add("a long clause without a sentence end, still going on and on, and then")
    assert buffer.trigger() == ["a long clause without a sentence end, still going on and on, and "]
    buffer.add(" more")
    assert buffer.flush() == "then more"


# no loss, no duplication

_CHARS = [*"ab  \n.!?,。！」", "é", "\u0301", "👍", "\U0001f3fd", "\u200d", "🇫", "🇷", "…", "\t"]
_PIECES = st.one_of(
    st.text(alphabet=st.sampled_from(_CHARS), max_size=30),
    st.builds(lambda char, count: char * count, st.sampled_from(["x", "👍", "y\u0301"]), st.integers(0, 900)),
)
_OPS = st.lists(st.one_of(_PIECES, st.sampled_from(["<trigger>", "<flush>"])), max_size=60)
_CJK_END = "。！？」』）】》\"'”’)]"


@settings(max_examples=300, deadline=None)
@given(
    schedule=st.lists(st.integers(*SCHEDULE_RANGE), min_size=1, max_size=5),
    auto_mode=st.booleans(),
    ops=_OPS,
)
def test_text_is_never_lost_or_duplicated(schedule, auto_mode, ops):
    buffer = TextBuffer(schedule, auto_mode=auto_mode)
    added, out = "", ""
    for op in [*ops, "<flush>"]:
        before = buffer.pending
        if op == "<flush>":
            rest = buffer.flush()
            if rest is None:
                assert not before.strip()
                added = added[: len(added) - len(before)]  # whitespace-only leftovers are dropped
            else:
                assert rest == before
                out += rest
            assert buffer.pending == ""
            continue
        if op == "<trigger>":
            segments = buffer.trigger()
            assert len(segments) <= 1
            assert segments == [] or len(before) >= TRIGGER_MINIMUM
        else:
            segments = buffer.add(op)
            added += op
            before += op
        assert "".join(segments) + buffer.pending == before
        assert len(buffer.pending) <= MAX_PENDING
        for segment in segments:
            assert segment.strip()
            assert len(segment) <= MAX_PENDING
            # a segment ends after whitespace, after a CJK sentence end, or is a cap cut of a wordless run
            assert segment[-1].isspace() or segment[-1] in _CJK_END or not re.search(r"\S\s", segment)
        out += "".join(segments)
    assert out == added

import itertools
import random

import pytest

from intone.speech.text.chunking import ChunkPlan, chunk_spans


def _covers(text: str, spans: list[tuple[int, int]]) -> None:
    assert "".join(text[a:b] for a, b in spans) == text
    assert all(b > a for a, b in spans)
    assert all(text[a:b].strip() for a, b in spans) or not text.strip()


def _long_mixed(length: int) -> str:
    rng = random.Random(7)
    words = [
        "alpha",
        "beta,",
        "gamma.",
        "delta!",
        "épée",
        "мир",
        "世界。",
        "🎸",
        "x" * 25,
        "  ",
        "\n",
        "3.5%",
    ]
    return " ".join(rng.choice(words) for _ in range(length // 3))[:length]


def test_first_chunk_is_the_first_clause():
    text = "Hello there, this is the first clause. Then a whole sentence follows here. And another."
    spans = chunk_spans(text)
    assert text[slice(*spans[0])] == "Hello there, "
    assert text[slice(*spans[1])].startswith("this is the first clause.")


def test_very_short_first_clause_joins_the_next():
    text = "Hi, this is a test of the chunker. It has several sentences!"
    assert text[slice(*chunk_spans(text)[0])] == "Hi, this is a test of the chunker. "


def test_later_chunks_are_whole_sentences_merged_up_to_target():
    sentence = "This sentence has exactly fifty characters in it. "
    text = "Starting now, " + sentence * 10
    spans = chunk_spans(text, ChunkPlan(target=120, maximum=200))
    assert text[slice(*spans[0])] == "Starting now, "
    for a, b in spans[1:]:
        assert text[a:b].rstrip().endswith(".")
        assert b - a <= 120


def test_first_chunk_without_punctuation_is_a_few_words_never_mid_word():
    text = "no punctuation at all " * 40
    spans = chunk_spans(text)
    first = text[slice(*spans[0])]
    assert len(first) <= ChunkPlan().first_max
    assert first.endswith(" ")
    for a, _ in spans[1:]:
        assert text[a - 1] == " "


@pytest.mark.parametrize("length", [10_000, 40_000])
def test_long_text_is_covered_and_bounded(length):
    text = _long_mixed(length)
    spans = chunk_spans(text)
    _covers(text, spans)
    assert max(b - a for a, b in spans) <= ChunkPlan().maximum


@pytest.mark.parametrize(
    "text",
    ["🎸" * 700, "x" * 1000, "Hello мир 世界。你好。" * 30, "   ", "", "a", "\n\n\n", "e\u0301" * 400],
)
def test_odd_inputs_are_covered(text):
    spans = chunk_spans(text)
    _covers(text, spans)
    assert all(b - a <= ChunkPlan().maximum for a, b in spans)


def test_runs_without_spaces_are_not_cut_inside_a_combining_sequence():
    text = "e\u0301" * 400
    for a, _ in chunk_spans(text)[1:]:
        assert text[a] == "e"


# --- Plans per optimize_streaming_latency ------------------------------------------------------------


def test_latency_none_and_zero_give_the_default_plan():
    assert ChunkPlan.for_latency(None) == ChunkPlan()
    assert ChunkPlan.for_latency(0) == ChunkPlan()


def test_first_chunk_limit_never_grows_as_latency_rises():
    plans = [ChunkPlan.for_latency(level) for level in range(5)]
    limits = [plan.first_max for plan in plans]
    assert all(later <= earlier for earlier, later in itertools.pairwise(limits))
    assert limits[4] < limits[0]
    assert all(plan.first_min <= plan.first_max for plan in plans)
    # Only the first chunk changes: later chunks keep their size.
    assert {(plan.target, plan.maximum) for plan in plans} == {(ChunkPlan().target, ChunkPlan().maximum)}


def test_out_of_range_latency_levels_are_clamped():
    assert ChunkPlan.for_latency(-1) == ChunkPlan.for_latency(0)
    assert ChunkPlan.for_latency(-100) == ChunkPlan()
    assert ChunkPlan.for_latency(5) == ChunkPlan.for_latency(4)
    assert ChunkPlan.for_latency(99) == ChunkPlan.for_latency(4)


def test_higher_latency_level_cuts_a_long_first_sentence_shorter():
    text = (
        "This opening sentence runs on for quite a long while without a single comma in it "
        "so the first chunk has to be cut at a space. Then another sentence follows."
    )
    default = chunk_spans(text, ChunkPlan.for_latency(0))
    fast = chunk_spans(text, ChunkPlan.for_latency(3))
    _covers(text, default)
    _covers(text, fast)
    first_default, first_fast = text[slice(*default[0])], text[slice(*fast[0])]
    assert len(first_fast) < len(first_default)
    assert len(first_fast) <= ChunkPlan.for_latency(3).first_max
    assert len(first_default) <= ChunkPlan().first_max
    assert first_fast.endswith(" ") and first_default.startswith(first_fast)

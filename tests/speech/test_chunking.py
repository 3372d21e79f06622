import random
import string
import unicodedata

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


def test_first_chunk_is_the_whole_first_sentence_on_its_own():
    text = "Hello there, this is the first clause. Then a whole sentence follows here. And another."
    spans = chunk_spans(text)
    assert text[slice(*spans[0])] == "Hello there, this is the first clause. "
    assert text[slice(*spans[1])] == "Then a whole sentence follows here. And another."


def test_very_short_first_sentence_joins_the_next():
    text = "Hi. This is a test of the chunker. It has several sentences!"
    assert text[slice(*chunk_spans(text)[0])] == "Hi. This is a test of the chunker. "


def test_a_very_long_first_sentence_ends_at_its_last_clause_within_the_limit():
    text = "When the long sentence starts, it goes on, and on " + "and on " * 30 + "until the end."
    first = text[slice(*chunk_spans(text)[0])]
    assert first == "When the long sentence starts, it goes on, "


def test_later_chunks_are_whole_sentences_merged_up_to_target():
    sentence = "This sentence has exactly fifty characters in it. "
    text = "Starting now. " + sentence * 10
    spans = chunk_spans(text, ChunkPlan(target=120, maximum=200))
    assert text[slice(*spans[0])] == "Starting now. "
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


# Unbroken runs of 10,000 characters: a word, an abbreviation espeak-ng would spell as one (and overflow
# on), a number, punctuation after one letter, a URL, Chinese without punctuation, combining sequences.
_LONG_RUNS = {
    "letters": "".join(random.Random(3).choices(string.ascii_lowercase, k=10_000)),
    "dotted": "ꙮ." * 5_000,
    "digits": "".join(random.Random(4).choices(string.digits, k=10_000)),
    "dashes": "a" + "-" * 9_999,
    "url": ("https://example.com/" + "path-segment/" * 800)[:10_000],
    "chinese": "中" * 10_000,
    "combining": "e\u0301" * 5_000,
}


def _longest_run(text: str) -> int:
    return max((len(run) for run in text.split()), default=0)


@pytest.mark.parametrize("text", _LONG_RUNS.values(), ids=_LONG_RUNS.keys())
def test_a_long_run_is_read_in_pieces_of_bounded_length(text):
    plan = ChunkPlan()
    spans = chunk_spans(text)
    _covers(text, spans)
    assert max(_longest_run(text[a:b]) for a, b in spans) <= plan.run_maximum
    # A piece is at least half the limit unless a chunk ends there anyway: the count grows linearly.
    assert len(spans) <= 2 * len(text) // plan.run_maximum + len(text) // plan.maximum + 2


def test_a_long_run_is_cut_after_its_punctuation_where_it_has_some():
    text = "Open " + _LONG_RUNS["url"] + " now."
    for a, _ in chunk_spans(text)[1:-1]:
        assert text[a - 1] in "/- "


def test_a_long_run_is_cut_between_combining_sequences():
    text = _LONG_RUNS["combining"]
    for a, _ in chunk_spans(text)[1:]:
        assert text[a] == "e"


@pytest.mark.parametrize(
    "text",
    [_long_mixed(10_000), "Hello мир 世界。你好。" * 30, "中文的句子，" * 100, "x" * 64 + " tail."],
    ids=["mixed", "scripts", "chinese", "at-the-limit"],
)
def test_text_without_long_runs_is_chunked_as_before(text):
    assert chunk_spans(text) == chunk_spans(text, ChunkPlan(run_maximum=len(text)))


def test_a_long_run_is_not_cut_between_punctuation_and_its_combining_mark():
    text = "ab.\u0301" * 100
    for a, _ in chunk_spans(text)[1:]:
        assert not unicodedata.combining(text[a])

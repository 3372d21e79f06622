"""Marked text through the synthesizer, with a small fake engine (real engines: test_text_control.py):
pauses are exact silence between the audio around them, fixed phonemes reach the engine whole, tags are
never spoken, pronunciation rules apply, and alignments still spell the request text."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intone.engines.base import EngineRequest, Prepared, spans_from_durations, unit_char_times
from intone.speech.errors import InvalidMarkup
from intone.speech.lexicon import AliasRule, PhonemeRule
from intone.speech.synthesizer import SpeechRequest, Synthesizer
from intone.speech.text.chunking import ChunkPlan, marked_chunk_spans
from tests.utils.engines import OneEngine

RATE = 1000
LOUD = 0.5


class LoudEngine:
    """Every phoneme (or, reading text, every character) is 10 ms of constant, non-zero audio."""

    name = "kokoro"
    sample_rate = RATE
    max_phonemes = 400

    def __init__(self, needs_phonemes: bool) -> None:
        self.needs_phonemes = needs_phonemes
        self.calls: list[EngineRequest] = []

    def prepare(self, request: EngineRequest) -> Prepared:
        self.calls.append(request)
        if not self.needs_phonemes:
            frames = len(request.text)
            times = spans_from_durations(np.full(frames, 0.01))
            return Prepared(RATE, 10, frames, times)
        durations = np.array([0.01 * len(unit.phonemes) for unit in request.units])
        times = unit_char_times(len(request.text), request.units, spans_from_durations(durations))
        return Prepared(RATE, 10, int(sum(len(u.phonemes) for u in request.units)), times)

    def decode(self, prepared: Prepared, start: int, stop: int) -> np.ndarray:
        return np.full((stop - start) * 10, LOUD, dtype=np.float32)

    def calibrated(self, voice) -> bool:
        return True

    def calibrate(self, voice) -> None:
        return None


def _speak(request: SpeechRequest, needs_phonemes: bool = True):
    engines = OneEngine(LoudEngine(needs_phonemes))
    synth = Synthesizer(engines)
    plan = synth.plan(request)
    chunks = list(synth.stream(plan))
    audio = np.concatenate([chunk.audio for chunk in chunks])
    return plan, chunks, audio, engines.engine


def _joined(alignments):
    characters, starts, ends = [], [], []
    for alignment in alignments:
        characters += alignment.characters
        starts += alignment.starts
        ends += alignment.ends
    return "".join(characters), np.array(starts), np.array(ends)


def _check(alignment, text: str, duration: float) -> None:
    characters, starts, ends = alignment
    assert characters == text
    assert (np.diff(starts) >= 0).all() and (ends >= starts).all()
    assert starts.min() >= 0 and ends.max() <= duration + 1e-9


def _silent_runs(audio: np.ndarray) -> list[tuple[float, float]]:
    """(start, length) in seconds of each run of exact zeros."""
    silent = np.concatenate(([False], audio == 0, [False]))
    edges = np.flatnonzero(np.diff(silent.astype(np.int8)))
    return [(start / RATE, (end - start) / RATE) for start, end in zip(edges[::2], edges[1::2], strict=True)]


@pytest.mark.parametrize("needs_phonemes", [True, False])
@pytest.mark.parametrize(
    ("tag", "seconds"), [('<break time="1.5s" />', 1.5), ('<break time="250ms"/>', 0.25)]
)
def test_a_break_is_exact_silence_between_the_audio_around_it(needs_phonemes, tag, seconds):
    text = f"Hello there. {tag} How are you?"
    plan, chunks, audio, engine = _speak(SpeechRequest(text=text), needs_phonemes)
    assert all(tag not in call.text and "break" not in call.text for call in engine.calls)
    ((start, length),) = _silent_runs(audio)
    assert length == pytest.approx(seconds, abs=1 / RATE)
    duration = len(audio) / RATE
    original = _joined(chunk.alignment for chunk in chunks)
    _check(original, text, duration)
    _check(_joined(chunk.normalized_alignment for chunk in chunks), plan.normalized.text, duration)
    # The tag's characters span the pause, and the words after it start after it.
    characters, starts, ends = original
    first = characters.index("<")
    last = first + len(tag) - 1
    assert starts[first] == pytest.approx(start) and ends[last] == pytest.approx(start + seconds)
    assert starts[characters.index("How")] >= start + seconds - 1e-9


def test_breaks_anywhere_pause_in_order():
    text = '<break time="0.5s"/>One.<break time="1s"/><break time="0.2s"/> Two <break time="0.3s"/>'
    _plan, chunks, audio, _ = _speak(SpeechRequest(text=text))
    runs = _silent_runs(audio)
    assert [round(length, 3) for _, length in runs] == [0.5, 1.2, 0.3]
    _check(_joined(chunk.alignment for chunk in chunks), text, len(audio) / RATE)


def test_a_pause_ends_a_chunk_and_a_fixed_word_is_never_cut():
    text = "one two three four five six seven eight"
    assert marked_chunk_spans(text, [(8, 13)], [], ChunkPlan()) == [(0, 13), (13, len(text))]
    small = ChunkPlan(first_max=10, first_min=2, target=10, maximum=12)
    spans = marked_chunk_spans(text, [], [(4, 18)], small)
    assert all(not (4 < start < 18) for start, _ in spans)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))


def test_a_phoneme_tag_reaches_the_engine_as_one_unit_spanning_its_word():
    text = 'Say <phoneme alphabet="ipa" ph="təˈmɑːtoʊ">tomato</phoneme> again.'
    _plan, chunks, audio, engine = _speak(SpeechRequest(text=text))
    (call,) = engine.calls
    assert call.text == "Say tomato again."
    fixed = [unit for unit in call.units if unit.phonemes == "təmˈɑːtoʊ"]
    assert len(fixed) == 1 and call.text[fixed[0].start : fixed[0].end] == "tomato"
    assert [unit.phonemes for unit in call.units].count(" ") == 2  # the words stay apart
    characters, starts, ends = _joined(chunk.alignment for chunk in chunks)
    _check((characters, starts, ends), text, len(audio) / RATE)
    opening, word = characters.index("<phoneme"), characters.index(">tomato") + 1
    closing = characters.index("</phoneme>")
    assert ends[word + 5] - starts[word] == pytest.approx(0.01 * len("təmˈɑːtoʊ"))
    # The tag's own characters take no time: the opening where the word starts, the closing where it ends.
    assert np.allclose(starts[opening:word], starts[word]) and np.allclose(ends[opening:word], starts[word])
    assert np.allclose(starts[closing : closing + 10], ends[word + 5])


def test_an_engine_reading_text_gets_the_word_as_written():
    text = 'Say <phoneme alphabet="cmu-arpabet" ph="T AH0 M AA1 T OW2">tomato</phoneme>.'
    _, _, _, engine = _speak(SpeechRequest(text=text), needs_phonemes=False)
    assert [call.text for call in engine.calls] == ["Say tomato."]


@pytest.mark.parametrize(
    ("model", "spoken"), [("eleven_v3", " Oh.  Fine."), ("eleven_multilingual_v2", None)]
)
def test_audio_tags_are_markup_on_v3_only(model, spoken):
    text = "[laughs] Oh. [whispers] Fine."
    _plan, chunks, audio, engine = _speak(SpeechRequest(text=text, model_id=model))
    said = "".join(call.text for call in engine.calls)
    assert said == (spoken or text)
    _check(_joined(chunk.alignment for chunk in chunks), text, len(audio) / RATE)


def test_a_v3_pause_tag_pauses():
    _, _, audio, _ = _speak(SpeechRequest(text="Wait. [long pause] Now.", model_id="eleven_v3"))
    ((_, length),) = _silent_runs(audio)
    assert length == pytest.approx(1.5)


def test_only_tags_that_make_no_sound_make_no_audio_but_keep_their_alignment():
    text = "[laughs] [sighs]"
    _, chunks, audio, engine = _speak(SpeechRequest(text=text, model_id="eleven_v3"))
    assert len(audio) == 0 and engine.calls == []
    _check(_joined(chunk.alignment for chunk in chunks), text, 0.0)


def test_without_ssml_tags_are_read_as_text():
    text = 'Wait <break time="1s"/> here.'
    _, _, audio, engine = _speak(SpeechRequest(text=text, ssml=False, normalization="off"))
    assert "".join(call.text for call in engine.calls) == text
    assert _silent_runs(audio) == []


def test_a_tag_that_cannot_be_read_fails_the_plan():
    with pytest.raises(InvalidMarkup):
        Synthesizer(OneEngine(LoudEngine(True))).plan(SpeechRequest(text='Say <phoneme ph="x">x</phoneme>.'))


def test_rules_change_what_the_engine_gets_and_alignment_spells_the_request_text():
    text = "Ask the DBA about tomato."
    lexicon = (AliasRule("DBA", "database admin"), PhonemeRule("tomato", "təˈmɑːtoʊ", "ipa"))
    _plan, chunks, audio, engine = _speak(SpeechRequest(text=text, lexicon=lexicon))
    (call,) = engine.calls
    assert call.text == "Ask the database admin about tomato."
    assert any(unit.phonemes == "təmˈɑːtoʊ" for unit in call.units)
    characters, starts, ends = _joined(chunk.alignment for chunk in chunks)
    _check((characters, starts, ends), text, len(audio) / RATE)
    dba = characters.index("DBA")
    assert ends[dba + 2] - starts[dba] > 0.1  # the alias's sounds map to the three letters


def test_normalization_touches_only_text_pieces():
    text = 'It costs $3. <phoneme alphabet="ipa" ph="tuː">2</phoneme> <break time="1s"/> 4 left.'
    plan, _, _, engine = _speak(SpeechRequest(text=text))
    assert "three dollars" in plan.normalized.text and "four" in plan.normalized.text
    assert '<break time="1s"/>' in plan.normalized.text
    assert any(
        unit.phonemes == "tuː" and unit.end - unit.start == 1 for call in engine.calls for unit in call.units
    )


_FRAGMENTS = st.sampled_from(
    [
        "Hello there. ",
        "It costs $3, ",
        "word",
        " ",
        ", ",
        "!",
        '<break time="0.25s"/>',
        '<break time="1s" /> ',
        '<phoneme alphabet="ipa" ph="təˈmɑːtoʊ">tomato</phoneme>',
        '<phoneme alphabet="cmu-arpabet" ph="N UW1 Y AO1 R K">New York</phoneme> ',
        "[laughs] ",
        "[short pause]",
        "zorblax ",
        "x" * 70,
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_FRAGMENTS, min_size=1, max_size=12)
    .map("".join)
    .filter(lambda text: any(c.isalnum() for c in text)),
    st.sampled_from(["eleven_v3", "eleven_multilingual_v2"]),
    st.booleans(),
)
def test_any_marked_text_keeps_the_alignment_rules(text, model, needs_phonemes):
    small = ChunkPlan(first_max=30, first_min=4, target=40, maximum=50)
    lexicon = (AliasRule("zorblax", "bananas"), PhonemeRule("word", "W ER1 D", "cmu-arpabet"))
    request = SpeechRequest(text=text, model_id=model, lexicon=lexicon, chunking=small)
    plan, chunks, audio, _ = _speak(request, needs_phonemes)
    duration = len(audio) / RATE
    _check(_joined(chunk.alignment for chunk in chunks), text, duration)
    _check(_joined(chunk.normalized_alignment for chunk in chunks), plan.normalized.text, duration)
    expected = sum(pause.seconds for pause in plan.marks.pauses)
    assert sum(length for _, length in _silent_runs(audio)) == pytest.approx(
        expected, abs=0.002 * len(chunks)
    )

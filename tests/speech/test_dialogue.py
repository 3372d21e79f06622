"""A dialogue's plan and stream, with a small fake engine (real engines: tests/api/test_text_to_dialogue.py):
turns follow each other with exact silence between them, voice segments tile the recording and the
joined text, and the alignment spells the inputs' texts joined."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from intone.engines.base import EngineRequest, Prepared, spans_from_durations
from intone.speech import dialogue
from intone.speech.errors import SpeechError, TextEmpty, TextTooLong, VoiceNotFound
from intone.speech.synthesizer import SpeechRequest, Synthesizer
from intone.speech.voices import catalog
from tests.utils.engines import OneEngine

RATE = 1000
BRIAN = "nPczCjzI2devNBz1zQrb"
GEORGE = "JBFqnCBsd6RMkjVDRZzb"


class CharacterEngine:
    """Reads text itself; every character is 10 ms of constant, non-zero audio."""

    name = "kokoro"
    sample_rate = RATE
    needs_phonemes = False
    max_phonemes = 400

    def __init__(self) -> None:
        self.calls: list[EngineRequest] = []

    def prepare(self, request: EngineRequest) -> Prepared:
        self.calls.append(request)
        return Prepared(RATE, 10, len(request.text), spans_from_durations(np.full(len(request.text), 0.01)))

    def decode(self, prepared: Prepared, start: int, stop: int) -> np.ndarray:
        return np.full((stop - start) * 10, 0.5, dtype=np.float32)

    def calibrated(self, voice) -> bool:
        return True


def _requests(*turns: tuple[str, str], model_id: str = "eleven_v3") -> list[SpeechRequest]:
    return [
        SpeechRequest(text=text, voice_id=voice, model_id=model_id, language="en") for text, voice in turns
    ]


def _speak(*turns: tuple[str, str]):
    synthesizer = Synthesizer(OneEngine(CharacterEngine()))
    plan = dialogue.plan(synthesizer, _requests(*turns))
    chunks = list(dialogue.stream(synthesizer, plan))
    return plan, chunks, synthesizer.engines.engine


def test_turns_follow_each_other_with_a_gap_of_exact_silence_and_segments_tile_them():
    texts = ["Hello there.", "Hi!", "How are you?"]
    plan, chunks, _ = _speak((texts[0], BRIAN), (texts[1], GEORGE), (texts[2], BRIAN))
    audio = np.concatenate([item.chunk.audio for item in chunks])
    segments = [segment for item in chunks for segment in item.segments]
    assert [segment.index for segment in segments] == [0, 1, 2]
    assert [segment.voice_id for segment in segments] == [BRIAN, GEORGE, BRIAN]
    assert [(s.first, s.stop) for s in segments] == [(0, 12), (12, 15), (15, 27)]
    assert plan.text == "".join(texts)
    assert segments[0].start == 0 and segments[-1].end == pytest.approx(len(audio) / RATE)
    for before, after in itertools.pairwise(segments):
        assert before.end == after.start
    # Each turn is 10 ms per character; then the gap, in exact zeros, ends its segment.
    gap = round(dialogue.TURN_GAP * RATE)
    for segment, text in zip(segments[:-1], texts, strict=False):
        assert segment.end - segment.start == pytest.approx(len(text) * 0.01 + dialogue.TURN_GAP)
        end = round(segment.end * RATE)
        assert (audio[end - gap : end] == 0).all() and audio[end - gap - 1] != 0 and audio[end] != 0
    assert (audio[round(segments[-1].start * RATE) :] != 0).all()  # no gap after the last turn


def test_the_alignment_spells_the_joined_inputs_each_turn_timed_within_its_segment():
    plan, chunks, _ = _speak(("One two.", BRIAN), ("Three.", GEORGE))
    characters = [c for item in chunks for c in item.chunk.alignment.characters]
    starts = np.array([t for item in chunks for t in item.chunk.alignment.starts])
    assert "".join(characters) == plan.text == "One two.Three."
    assert (np.diff(starts) >= 0).all()
    segments = [segment for item in chunks for segment in item.segments]
    for segment in segments:
        inside = starts[segment.first : segment.stop]
        assert (inside >= segment.start - 1e-9).all() and (inside < segment.end).all()


def test_each_turn_reads_its_neighbours_as_context():
    synthesizer = Synthesizer(OneEngine(CharacterEngine()))
    plan = dialogue.plan(synthesizer, _requests(("A.", BRIAN), ("B.", GEORGE), ("C.", BRIAN)), "Before.", "")
    assert [(turn.request.previous_text, turn.request.next_text) for turn in plan.turns] == [
        ("Before.", "B. C."),
        ("Before. A.", "C."),
        ("Before. A. B.", ""),
    ]


def test_a_dialogue_tells_the_admission_what_it_weighs():
    plan, _, _ = _speak(("Hello.", BRIAN), ("Hi.", GEORGE))
    assert plan.model.model_id == "eleven_v3"
    assert plan.language == "en" and plan.language_source == "requested"
    assert plan.speed == 1.0 and plan.engine in {turn.engine for turn in plan.turns}


def test_refusals_name_what_is_wrong():
    synthesizer = Synthesizer(OneEngine(CharacterEngine()))
    with pytest.raises(SpeechError, match="at least one input"):
        dialogue.plan(synthesizer, [])
    voices = [voice.voice_id for voice in catalog().voices[: dialogue.MAX_VOICES + 1]]
    with pytest.raises(SpeechError, match="at most 10 different voices; this one uses 11"):
        dialogue.plan(synthesizer, _requests(*(("Hi.", voice) for voice in voices)))
    dialogue.plan(synthesizer, _requests(*(("Hi.", voice) for voice in voices[:-1])))
    with pytest.raises(TextTooLong, match="6000 characters in all"):
        dialogue.plan(synthesizer, _requests(("a" * 3000, BRIAN), ("b" * 3000, GEORGE)))
    with pytest.raises(TextEmpty, match=r"^inputs\[1\]: "):
        dialogue.plan(synthesizer, _requests(("Hello.", BRIAN), ("...", GEORGE)))
    with pytest.raises(VoiceNotFound, match=r"^inputs\[0\]: "):
        dialogue.plan(synthesizer, _requests(("Hello.", "nobody")))

"""A dialogue: several inputs, each spoken by its own voice, as one continuous recording.

Each input is a text-to-speech request of its own (`Synthesizer.plan`), so audio tags, break tags,
pronunciation rules, normalization and language detection work inside an input as they do for text to
speech, and the neighbouring inputs are the context normalization reads around it. Turns follow each
other with TURN_GAP seconds of silence between them.

The inputs' texts are joined with nothing between them (as ElevenLabs' voice segments count them), so
character i of the joined text is a character of exactly one input, and a turn's voice segment spans its
input's characters. Segments tile the recording: a turn's segment runs from the end of the one before
to the start of the next, the gap after a turn included in its segment.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from intone.speech.alignment import Alignment
from intone.speech.errors import SpeechError, TextTooLong
from intone.speech.models import Model, get_model
from intone.speech.synthesizer import (
    CONTEXT_CHARACTERS,
    LanguageSource,
    Plan,
    SpeechChunk,
    SpeechRequest,
    Synthesizer,
)

# Silence between two turns. People in conversation answer after about 0.2 s (Stivers et al., PNAS
# 2009, across ten languages); the engines also end and begin each turn with a little quiet of their
# own, so the pause heard is somewhat longer, as between speakers reading a script.
TURN_GAP = 0.25
MAX_VOICES = 10  # distinct voices in one dialogue, as ElevenLabs allows


@dataclass(frozen=True)
class DialoguePlan:
    turns: tuple[Plan, ...]  # one per input, in order
    gap: float = TURN_GAP

    @property
    def text(self) -> str:
        """The inputs' texts joined: what the alignment spells and the credits count."""
        return "".join(turn.text for turn in self.turns)

    @property
    def model(self) -> Model:
        return self.turns[0].model

    @property
    def engine(self) -> str:
        """The engine that speaks the most characters: the one whose speed paces the work."""
        counts = Counter[str]()
        for turn in self.turns:
            counts[turn.engine] += len(turn.text)
        return counts.most_common(1)[0][0]

    @property
    def speed(self) -> float:
        return min(turn.speed for turn in self.turns)

    @property
    def language(self) -> str:
        """The languages spoken, in order of first use, comma-separated (as Content-Language lists them)."""
        return ", ".join(dict.fromkeys(turn.language for turn in self.turns))

    @property
    def language_source(self) -> LanguageSource:
        sources = {turn.language_source for turn in self.turns}
        return sources.pop() if len(sources) == 1 else "detected"


@dataclass(frozen=True)
class VoiceSegment:
    """Where one turn lies in the recording and in the joined text."""

    voice_id: str
    start: float  # seconds
    end: float
    first: int  # its first character in the joined text
    stop: int  # one past its last character
    index: int  # its input's position in the request


@dataclass(frozen=True)
class DialogueChunk:
    chunk: SpeechChunk  # timed from the start of the recording
    engine: str  # the engine of its turn
    segments: tuple[VoiceSegment, ...] = ()  # the turns whose segment ends with this chunk


def plan(
    synthesizer: Synthesizer, requests: Sequence[SpeechRequest], previous_text: str = "", next_text: str = ""
) -> DialoguePlan:
    """Plans every input, each with the text around it as its context (`previous_text` and `next_text`:
    the text around the whole dialogue). Raises SpeechError naming the input that cannot be spoken, and
    for more than MAX_VOICES voices or more characters in all than the model takes in one request."""
    check_inputs([request.voice_id for request in requests])
    model = get_model(requests[0].model_id)
    characters = sum(len(request.text) for request in requests)
    if characters > model.character_limit:
        raise TextTooLong(
            f"The inputs hold {characters} characters in all; model '{model.model_id}' accepts at most "
            f"{model.character_limit} characters per request."
        )
    texts = [previous_text, *(request.text for request in requests), next_text]
    turns = []
    for index, request in enumerate(requests):
        around = dataclasses.replace(
            request,
            previous_text=" ".join(filter(None, texts[: index + 1]))[-CONTEXT_CHARACTERS:],
            next_text=" ".join(filter(None, texts[index + 2 :]))[:CONTEXT_CHARACTERS],
        )
        with naming_input(index):
            turns.append(synthesizer.plan(around))
    return DialoguePlan(tuple(turns))


@contextlib.contextmanager
def naming_input(index: int) -> Iterator[None]:
    """Puts `inputs[index]: ` before the message of a SpeechError raised inside, which then says which
    input is wrong."""
    try:
        yield
    except SpeechError as error:
        raise type(error)(f"inputs[{index}]: {error.message}") from error


def check_inputs(voice_ids: Sequence[str | None]) -> None:
    """Raises SpeechError for a dialogue of no inputs, or of more than MAX_VOICES different voices."""
    if not voice_ids:
        raise SpeechError("A dialogue needs at least one input.")
    count = len(set(voice_ids))
    if count > MAX_VOICES:
        raise SpeechError(f"A dialogue may use at most {MAX_VOICES} different voices; this one uses {count}.")


def stream(synthesizer: Synthesizer, dialogue: DialoguePlan) -> Iterator[DialogueChunk]:
    """Each turn's windows, timed from the start of the recording, then the gap after it (none after the
    last turn), which carries the turn's voice segment."""
    start, first = 0.0, 0
    for index, turn in enumerate(dialogue.turns):
        end = start
        for chunk in synthesizer.stream(turn):
            shifted = _shifted(chunk, start)
            end = max(end, shifted.offset + shifted.duration)
            yield DialogueChunk(shifted, turn.engine)
        rate = synthesizer.engines.get(turn.engine).sample_rate
        gap = np.zeros(0 if index == len(dialogue.turns) - 1 else round(dialogue.gap * rate), np.float32)
        following = end + len(gap) / rate
        stop = first + len(turn.text)
        segment = VoiceSegment(turn.voice.voice_id, start, following, first, stop, index)
        silence = SpeechChunk(gap, rate, end, Alignment.empty(), Alignment.empty())
        yield DialogueChunk(silence, turn.engine, (segment,))
        start, first = following, stop


def _shifted(chunk: SpeechChunk, seconds: float) -> SpeechChunk:
    return dataclasses.replace(
        chunk,
        offset=chunk.offset + seconds,
        alignment=chunk.alignment.shifted(seconds),
        normalized_alignment=chunk.normalized_alignment.shifted(seconds),
    )

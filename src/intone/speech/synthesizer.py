"""Text + voice + settings -> a stream of audio windows with alignments.

`plan()` decides everything that can fail before any audio is made (model, voice, markup and
pronunciation rules, language, engine, limits, normalization, chunking), so a caller can reject a request
before it starts streaming. The text is read as marked text (`text/marked.py`): tags and rules make
pieces that say text, sound fixed phonemes or pause; only text pieces are normalized, a pause ends a
chunk and is silence made here (not by an engine), and a word with fixed phonemes is never cut.
`stream()` then synthesizes chunk by chunk: each chunk is prepared whole (its prosody and timings),
then decoded window by window (`speech/windows.py`), and every window is one item of the stream, so
each `next()` is one bounded piece of engine work that a scheduler can order.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from intone.engines import espeak_ng
from intone.engines.base import Engine, EngineRequest, Prepared, Unit, VoiceRealization
from intone.engines.registry import EngineSet
from intone.engines.voice_packs import VoicePackError
from intone.speech import alignment
from intone.speech.alignment import Alignment
from intone.speech.detection import detect
from intone.speech.errors import (
    EngineUnavailable,
    InvalidVoiceSettings,
    ModelCannotSpeak,
    TextTooLong,
    UnsupportedLanguage,
)
from intone.speech.lexicon import Lexicon
from intone.speech.mandarin import mandarin_units
from intone.speech.models import Model, engine_for, get_model, spoken_languages
from intone.speech.phonemes import phonemize_units
from intone.speech.settings import VoiceSettingValues
from intone.speech.text.chunking import ChunkPlan, engine_plan, marked_chunk_spans
from intone.speech.text.ipa import for_language
from intone.speech.text.marked import Fixed, MarkedText, Marks, Pause, Say, flatten, silent, written
from intone.speech.text.markup import Syntax, read_markup
from intone.speech.text.normalize import NormalizedText, normalize_in_context, unchanged
from intone.speech.text.rules import apply_rules
from intone.speech.text.speakable import require_speakable
from intone.speech.voices import Voice, catalog
from intone.speech.windows import WindowPlan

Normalization = Literal["auto", "on", "off"]
# How a plan's language was chosen: given by the request, detected in the text, or English because
# nothing was given and detection was not sure.
LanguageSource = Literal["requested", "detected", "fallback"]
SPEED_RANGE = (0.7, 1.2)
CONTEXT_CHARACTERS = 300  # how much of previous_text / next_text normalization reads
DEFAULT_LANGUAGE = "en"
log = logging.getLogger("intone.speech")


@dataclass(frozen=True)
class SpeechRequest:
    text: str
    voice_id: str | None = None  # None: the catalog's default voice
    model_id: str | None = None
    language: str | None = None
    speed: float = 1.0
    stability: float = 0.5
    seed: int | None = None
    normalization: Normalization = "auto"
    chunking: ChunkPlan | None = None  # None: the engine's own (`engine_plan`)
    windows: WindowPlan = field(default_factory=WindowPlan.whole)
    previous_text: str = ""  # context only: read around, never spoken
    next_text: str = ""
    lexicon: Lexicon = ()  # pronunciation rules, in order; the first that matches wins
    # Whether <break> and <phoneme> tags are read as markup (HTTP always; the stream-input socket when
    # its enable_ssml_parsing is true). eleven_v3's [audio tags] are read on that model either way.
    ssml: bool = True

    @staticmethod
    def from_api(
        text: str,
        voice_id: str,
        settings: VoiceSettingValues,
        *,
        model_id: str | None = None,
        language_code: str | None = None,
        seed: int | None = None,
        normalization: Normalization = "auto",
        latency: int | None = None,
        streaming: bool = False,
        previous_text: str = "",
        next_text: str = "",
        lexicon: Lexicon = (),
        ssml: bool = True,
    ) -> SpeechRequest:
        """A request from the API's fields. A streamed request's first window is small, and smaller as
        `optimize_streaming_latency` rises; at 4 automatic normalization is off too."""
        if latency == 4 and normalization == "auto":
            normalization = "off"
        return SpeechRequest(
            text=text,
            voice_id=voice_id,
            model_id=model_id,
            language=language_code.lower() if language_code else None,
            speed=settings.speed,
            stability=settings.stability,
            seed=seed,
            normalization=normalization,
            windows=WindowPlan.for_latency(latency) if streaming else WindowPlan.whole(),
            # Only the context next to the text matters; clipping keeps huge contexts cheap.
            previous_text=previous_text[-CONTEXT_CHARACTERS:],
            next_text=next_text[:CONTEXT_CHARACTERS],
            lexicon=lexicon,
            ssml=ssml,
        )


@dataclass(frozen=True)
class Plan:
    request: SpeechRequest
    model: Model
    voice: Voice
    language: str
    engine: str
    normalized: NormalizedText
    spans: tuple[tuple[int, int], ...]  # chunks, in normalized-text coordinates
    language_source: LanguageSource = "requested"
    marks: Marks = field(default_factory=Marks)  # fixed phonemes and pauses, in normalized-text coordinates

    @property
    def text(self) -> str:
        return self.request.text

    @property
    def speed(self) -> float:
        return self.request.speed


class Workload(Protocol):
    """What admission weighs of a planned generation: a text-to-speech plan, or a dialogue's."""

    @property
    def model(self) -> Model: ...

    @property
    def engine(self) -> str: ...

    @property
    def speed(self) -> float: ...


@dataclass(frozen=True)
class SpeechChunk:
    """One window of audio, and the characters that start in it."""

    audio: np.ndarray  # float32 mono
    sample_rate: int
    offset: float  # seconds from the start of the whole response
    alignment: Alignment  # original characters starting here, times from the start of the response
    normalized_alignment: Alignment

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate


class Synthesizer:
    def __init__(self, engines: EngineSet) -> None:
        self.engines = engines

    def plan(self, request: SpeechRequest) -> Plan:
        model = get_model(request.model_id)
        if not model.can_do_text_to_speech:
            raise ModelCannotSpeak(f"Model '{model.model_id}' cannot do text-to-speech.")
        voices = catalog()
        voice = voices.get(request.voice_id or voices.default_voice_id)
        _check_settings(request)
        require_speakable(request.text)
        if len(request.text) > model.character_limit:
            raise TextTooLong(
                f"The text is {len(request.text)} characters long; model '{model.model_id}' accepts at most "
                f"{model.character_limit} characters per request."
            )
        marked = _marked(request, model)
        language, source = self._language(request, model, written(marked))
        engine = self._engine_for(model, voice, language)
        normalized, marks = self._normalize(request, engine, language, marked)
        pauses = [(pause.start, pause.end) for pause in marks.pauses]
        whole = [(fixed.start, fixed.end) for fixed in marks.fixed]
        chunking = request.chunking or engine_plan(engine)
        spans = tuple(marked_chunk_spans(normalized.text, pauses, whole, chunking))
        return Plan(request, model, voice, language, engine, normalized, spans, source, marks)

    def stream(self, plan: Plan) -> Iterator[SpeechChunk]:
        engine = self._engine(plan)
        realization = plan.voice.realization(plan.engine, plan.language)
        sizes = plan.request.windows.sizes()
        offset = 0.0
        for index, (start, end) in enumerate(plan.spans):
            seed = None if plan.request.seed is None else plan.request.seed + index
            text = plan.normalized.text[start:end]
            with _pack_errors():
                parts = self._prepare(engine, plan, realization, text, plan.marks.within(start, end), seed)
            duration = sum(part.duration for part in parts)
            times = alignment.settle(_merge_times(len(text), parts), duration)
            original = self._original_alignment(plan, index, times).shifted(offset)
            normalized = alignment.build(text, times).shifted(offset)
            for audio, begin, last in _windows(engine, parts, sizes, _word_ends(text)):
                until = offset + begin + len(audio) / engine.sample_rate
                here, original = (original, Alignment.empty()) if last else original.split(until)
                normalized_here, normalized = (
                    (normalized, Alignment.empty()) if last else normalized.split(until)
                )
                yield SpeechChunk(audio, engine.sample_rate, offset + begin, here, normalized_here)
            offset += duration

    def calibration(self, plan: Plan) -> Callable[[], None] | None:
        """The work that lets the plan's voice decode in windows, if it still needs it (seconds of
        engine time, done once per voice); None when there is nothing to do or the engine is not loaded."""
        if not self.engines.loaded(plan.engine):
            return None
        engine = self.engines.get(plan.engine)
        realization = plan.voice.realization(plan.engine, plan.language)
        if engine.calibrated(realization):
            return None
        return lambda: engine.calibrate(realization)

    def _engine(self, plan: Plan) -> Engine:
        try:
            return self.engines.get(plan.engine)
        except VoicePackError as error:
            raise EngineUnavailable(f"The {plan.engine} engine cannot load: {error}") from error

    def _language(self, request: SpeechRequest, model: Model, words: str) -> tuple[str, LanguageSource]:
        """The language to speak; `words` is the text to speak without its markup."""
        if request.language:
            return request.language, "requested"
        candidates = spoken_languages(model, self.engines.languages())
        if len(candidates) == 1:
            return candidates[0], "fallback"  # the only language the model speaks: nothing to detect
        # The context around the text makes a short text's language clearer.
        sample = " ".join((request.previous_text, words, request.next_text))
        detected = detect(sample, candidates)
        if detected is None:
            log.debug("no language_code given and none detected with confidence; speaking English")
            return DEFAULT_LANGUAGE, "fallback"
        return detected, "detected"

    def _engine_for(self, model: Model, voice: Voice, language: str) -> str:
        engine = engine_for(model, language, self.engines.languages(), voice.can_use)
        if engine is None:
            raise UnsupportedLanguage(
                f"Model '{model.model_id}' cannot speak language '{language}' here. "
                f"Languages it speaks: {', '.join(spoken_languages(model, self.engines.languages()))}."
            )
        return engine

    def _normalize(
        self, request: SpeechRequest, engine: str, language: str, marked: MarkedText
    ) -> tuple[NormalizedText, Marks]:
        wanted = request.normalization == "on" or (
            request.normalization == "auto" and self.engines.needs_phonemes(engine)
        )
        contexts = _contexts(marked, request.previous_text, request.next_text)

        def say(index: int, piece: Say) -> NormalizedText:
            if not wanted:
                return unchanged(piece.text)
            before, after = contexts[index]
            return normalize_in_context(piece.text, language, before, after)

        return flatten(request.text, marked, say)

    def _prepare(
        self,
        engine: Engine,
        plan: Plan,
        realization: VoiceRealization,
        text: str,
        marks: Marks,
        seed: int | None,
    ) -> list[Prepared]:
        """The chunk prepared for decoding: one part per engine call it needs and one per pause, each
        part's character times (for all of the chunk's text) already shifted to the chunk's start."""
        base = EngineRequest(
            text=text,
            language=plan.language,
            locale=plan.voice.locale_for(plan.language),
            voice=realization,
            speed=plan.request.speed,
            seed=seed,
            stability=plan.request.stability,
        )
        parts, offset = [], 0.0
        for start, end, seconds in _runs(text, marks):
            if seconds is not None:
                made = [_silence(len(text), start, end, seconds, engine.sample_rate)]
            elif text[start:end].strip():
                made = self._speech(engine, base, start, end, marks)
            else:
                continue  # whitespace beside a pause: nothing to say
            for part in made:
                parts.append(dataclasses.replace(part, char_times=part.char_times + offset))
                offset += part.duration
        return parts

    def _speech(
        self, engine: Engine, base: EngineRequest, start: int, end: int, marks: Marks
    ) -> list[Prepared]:
        """Parts speaking base.text[start:end], their character times placed in all of the chunk's."""
        request = dataclasses.replace(base, text=base.text[start:end])
        if not engine.needs_phonemes:
            return [_placed(engine.prepare(request), start, len(base.text))]
        fixed = marks.within(start, end).fixed
        units = marked_units(request.text, fixed, base.language, base.locale)
        return [
            _placed(engine.prepare(dataclasses.replace(request, units=group)), start, len(base.text))
            for group in split_units(units, engine.max_phonemes)
        ]

    def _original_alignment(self, plan: Plan, index: int, times: np.ndarray) -> Alignment:
        source = plan.normalized.source
        start, end = plan.spans[index]
        first = _chunk_origin(plan, index)
        last = _chunk_origin(plan, index + 1)
        # An expansion's spaces can map to the next chunk's first character ("00:&" reads "zero zero:
        # and", the space before "and" comes from "&"); such characters count for this chunk's last.
        width = max(last - first, 0)
        local = [min(max(i - first, 0), width - 1) for i in source[start:end]] if width else []
        original_times = alignment.to_original(times[: len(local)], local, width)
        duration = float(times[-1, 1]) if len(times) else 0.0
        text = plan.normalized.original[first:last]
        return alignment.build(text, alignment.settle(original_times, duration))


def _marked(request: SpeechRequest, model: Model) -> MarkedText:
    """The request's text as marked text: its tags read, its pronunciation rules applied."""
    pieces = apply_rules(read_markup(request.text, Syntax.of(model.model_id, request.ssml)), request.lexicon)
    if silent(pieces):
        # Only tags that make no sound: a pause of no length keeps their characters in the alignment.
        return (Pause(0.0, request.text, tuple(range(len(request.text)))),)
    return pieces


def _contexts(pieces: MarkedText, previous: str, following: str) -> list[tuple[str, str]]:
    """What normalization reads before and after each piece: the words around it (a pause reads as a
    space), the request's previous_text and next_text included, up to CONTEXT_CHARACTERS each side."""
    words = [" " if isinstance(piece, Pause) else piece.text for piece in pieces]
    befores, text = [], previous[-CONTEXT_CHARACTERS:]
    for word in words:
        befores.append(text)
        text = (text + word)[-CONTEXT_CHARACTERS:]
    afters, text = [], following[:CONTEXT_CHARACTERS]
    for word in reversed(words):
        afters.append(text)
        text = (word + text)[:CONTEXT_CHARACTERS]
    return list(zip(befores, reversed(afters), strict=True))


def _chunk_origin(plan: Plan, index: int) -> int:
    """The first character of the request text that chunk `index` speaks for (the text's length past
    the last chunk). Characters between two chunks that made no text of their own (a phoneme tag's
    opening, a dropped audio tag) go with the later chunk, whose sound they precede."""
    if index == 0:
        return 0
    if index >= len(plan.spans):
        return len(plan.normalized.original)
    start, source = plan.spans[index][0], plan.normalized.source
    return min(source[start], source[start - 1] + 1)


def _runs(text: str, marks: Marks) -> Iterator[tuple[int, int, float | None]]:
    """The chunk as (start, end, None) runs to speak and (start, end, seconds) pauses, in order."""
    position = 0
    for pause in marks.pauses:
        if pause.start > position:
            yield position, pause.start, None
        yield pause.start, pause.end, pause.seconds
        position = pause.end
    if position < len(text):
        yield position, len(text), None


# The state of a part that is a pause: its windows are silence, made here rather than by an engine.
_SILENCE = object()


def _silence(length: int, start: int, end: int, seconds: float, sample_rate: int) -> Prepared:
    """A pause of `seconds` (to the sample) whose characters text[start:end] are spread over it."""
    samples = round(seconds * sample_rate)
    times = np.full((length, 2), np.nan)
    edges = np.linspace(0.0, samples / sample_rate, end - start + 1)
    times[start:end, 0], times[start:end, 1] = edges[:-1], edges[1:]
    return Prepared(sample_rate, 1, samples, times, _SILENCE)


def _placed(part: Prepared, start: int, length: int) -> Prepared:
    """The part with its character times (of a run starting at `start`) placed among `length`."""
    if start == 0 and len(part.char_times) == length:
        return part
    times = np.full((length, 2), np.nan)
    times[start : start + len(part.char_times)] = part.char_times
    return dataclasses.replace(part, char_times=times)


def _decode(engine: Engine, part: Prepared, start: int, stop: int) -> np.ndarray:
    if part.state is _SILENCE:
        return np.zeros((stop - start) * part.frame_samples, dtype=np.float32)
    return engine.decode(part, start, stop)


def _check_settings(request: SpeechRequest) -> None:
    low, high = SPEED_RANGE
    if not low <= request.speed <= high:
        raise InvalidVoiceSettings(f"speed must be between {low} and {high}; got {request.speed}.")
    if not 0.0 <= request.stability <= 1.0:
        raise InvalidVoiceSettings(f"stability must be between 0 and 1; got {request.stability}.")


def text_units(text: str, language: str, locale: str | None = None) -> tuple[Unit, ...]:
    """The front end for a language: misaki's for Mandarin, espeak-ng IPA (in `locale`'s variety where
    espeak-ng has it) for the others."""
    if language == "zh":
        return mandarin_units(text)
    return phonemize_units(text, espeak_ng.voice_for(language, locale) or "en-us")


def marked_units(
    text: str, fixed: tuple[Fixed, ...], language: str, locale: str | None = None
) -> tuple[Unit, ...]:
    """`text_units`, except that each `fixed` span (sorted, chunk-relative) is one unit with its given
    phonemes; the text around them goes through the front end."""
    units: list[Unit] = []
    position = 0
    for mark in fixed:
        units += _front_units(text, position, mark.start, language, locale, bool(units))
        units.append(Unit(for_language(mark.phonemes, language), mark.start, mark.end))
        position = mark.end
    units += _front_units(text, position, len(text), language, locale, bool(units))
    return tuple(units)


def _front_units(
    text: str, start: int, end: int, language: str, locale: str | None, after_units: bool
) -> list[Unit]:
    run = text[start:end]
    units = [Unit(u.phonemes, u.start + start, u.end + start) for u in text_units(run, language, locale)]
    spaces = len(run) - len(run.lstrip())
    # The front end says nothing for whitespace opening its text; after a fixed word it is a word gap.
    if spaces and after_units and (not units or units[0].start > start):
        units.insert(0, Unit(" ", start, start + spaces))
    return units


def split_units(units: tuple[Unit, ...], limit: int) -> list[tuple[Unit, ...]]:
    """Groups units so each group's phonemes fit `limit`, breaking at spaces where possible.

    A single unit longer than the limit (a very long run espeak spells out) is cut into pieces whose
    character spans divide the unit's span in proportion.
    """
    groups: list[list[Unit]] = [[]]
    size = 0
    for unit in (piece for whole in units for piece in _cut_unit(whole, limit)):
        if size + len(unit.phonemes) > limit and groups[-1]:
            groups.append([])
            size = 0
        groups[-1].append(unit)
        size += len(unit.phonemes)
    return [tuple(group) for group in groups if group]


def _cut_unit(unit: Unit, limit: int) -> list[Unit]:
    if len(unit.phonemes) <= limit:
        return [unit]
    pieces = [unit.phonemes[i : i + limit] for i in range(0, len(unit.phonemes), limit)]
    span = unit.end - unit.start
    bounds = [unit.start + round(span * k / len(pieces)) for k in range(len(pieces) + 1)]
    return [Unit(piece, bounds[k], bounds[k + 1]) for k, piece in enumerate(pieces)]


def _merge_times(length: int, parts: list[Prepared]) -> np.ndarray:
    """Each character takes its time from the part that placed it."""
    times = np.full((length, 2), np.nan)
    for part in parts:
        placed = ~np.isnan(part.char_times).any(axis=1)
        times[placed] = part.char_times[placed]
    return times


def _windows(
    engine: Engine, parts: list[Prepared], sizes: Iterator[float], word_ends: np.ndarray
) -> Iterator[tuple[np.ndarray, float, bool]]:
    """Decodes the parts window by window: (audio, its start in seconds from the chunk's start, whether
    it is the chunk's last). A chunk with no audio still yields one empty window, which carries its
    timings."""
    begins = np.concatenate(([0.0], np.cumsum([part.duration for part in parts])))
    spans = [
        (index, start, stop)
        for index, part in enumerate(parts)
        for start, stop in _window_spans(part, float(begins[index]), sizes, word_ends)
    ]
    if not spans:
        yield np.zeros(0, np.float32), 0.0, True
        return
    for number, (index, start, stop) in enumerate(spans):
        part = parts[index]
        with _pack_errors():
            audio = _decode(engine, part, start, stop)
        begin = float(begins[index]) + start * part.frame_samples / part.sample_rate
        yield audio, begin, number == len(spans) - 1


def _word_ends(text: str) -> np.ndarray:
    """Whether each character ends a word or a run of spaces: where a window may end."""
    spaces = np.array([char.isspace() for char in text], dtype=bool)
    return spaces | np.append(spaces[1:], True) if len(text) else spaces


def _window_spans(
    part: Prepared, begin: float, sizes: Iterator[float], word_ends: np.ndarray
) -> list[tuple[int, int]]:
    """(start, stop) frames of each window of a part. Each window ends where a word ends, as near its
    planned size as one does (between half and one and a half of it), so that the characters starting
    in a window also end in it; only inside a word longer than that does a window end mid-word. No
    window at the end is under half the planned size."""
    ends = (part.char_times[word_ends, 1] - begin) * part.sample_rate / part.frame_samples
    ends = ends[~np.isnan(ends)]
    boundaries = np.unique(np.rint(ends[np.abs(ends - np.rint(ends)) < 1e-6]).astype(np.int64))
    spans = []
    start = 0
    while start < part.frames:
        size = max(1, round(next(sizes) * part.sample_rate / part.frame_samples))
        stop = start + size
        near = boundaries[(boundaries >= start + (size + 1) // 2) & (boundaries <= start + size * 3 // 2)]
        if len(near):
            stop = int(near[np.argmin(np.abs(near - stop))])
        if part.frames - stop < size // 2:
            stop = part.frames
        spans.append((start, stop))
        start = stop
    return spans


@contextlib.contextmanager
def _pack_errors() -> Iterator[None]:
    try:
        yield
    except VoicePackError as error:  # a pack damaged since the server started
        raise EngineUnavailable(f"A voice pack cannot be used: {error}") from error

"""Text + voice + settings -> a stream of audio chunks with alignments.

`plan()` decides everything that can fail before any audio is made (model, voice, language, engine,
limits, normalization, chunking), so a caller can reject a request before it starts streaming.
`stream()` then synthesizes chunk by chunk.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from intone.engines import espeak_ng
from intone.engines.base import Engine, EngineRequest, Unit, VoiceRealization
from intone.engines.registry import EngineSet
from intone.engines.voice_packs import VoicePackError
from intone.speech import alignment
from intone.speech.alignment import Alignment
from intone.speech.detection import detect
from intone.speech.errors import (
    EngineUnavailable,
    InvalidVoiceSettings,
    ModelCannotSpeak,
    TextEmpty,
    TextTooLong,
    UnsupportedLanguage,
)
from intone.speech.mandarin import mandarin_units
from intone.speech.models import Model, engine_for, get_model, spoken_languages
from intone.speech.phonemes import phonemize_units
from intone.speech.settings import VoiceSettingValues
from intone.speech.text.chunking import ChunkPlan, chunk_spans
from intone.speech.text.normalize import NormalizedText, normalize_in_context, unchanged
from intone.speech.voices import Voice, catalog

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
    chunking: ChunkPlan = field(default_factory=ChunkPlan)
    previous_text: str = ""  # context only: read around, never spoken
    next_text: str = ""

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
        previous_text: str = "",
        next_text: str = "",
    ) -> SpeechRequest:
        """A request from the API's fields: `optimize_streaming_latency` shortens the first chunk, and
        at 4 turns automatic normalization off."""
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
            chunking=ChunkPlan.for_latency(latency),
            # Only the context next to the text matters; clipping keeps huge contexts cheap.
            previous_text=previous_text[-CONTEXT_CHARACTERS:],
            next_text=next_text[:CONTEXT_CHARACTERS],
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


@dataclass(frozen=True)
class SpeechChunk:
    audio: np.ndarray  # float32 mono
    sample_rate: int
    offset: float  # seconds from the start of the whole response
    alignment: Alignment  # this chunk's original characters, times from the start of the response
    normalized_alignment: Alignment


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
        if not request.text.strip():
            raise TextEmpty("The text is empty; send at least one character to speak.")
        if len(request.text) > model.character_limit:
            raise TextTooLong(
                f"The text is {len(request.text)} characters long; model '{model.model_id}' accepts at most "
                f"{model.character_limit} characters per request."
            )
        language, source = self._language(request, model)
        engine = self._engine_for(model, voice, language)
        normalized = self._normalize(request, engine, language)
        spans = tuple(chunk_spans(normalized.text, request.chunking))
        return Plan(request, model, voice, language, engine, normalized, spans, source)

    def stream(self, plan: Plan) -> Iterator[SpeechChunk]:
        try:
            engine = self.engines.get(plan.engine)
        except VoicePackError as error:
            raise EngineUnavailable(f"The {plan.engine} engine cannot load: {error}") from error
        realization = plan.voice.realization(plan.engine, plan.language)
        offset = 0.0
        for index, (start, end) in enumerate(plan.spans):
            seed = None if plan.request.seed is None else plan.request.seed + index
            try:
                audio, times = self._chunk(engine, plan, realization, plan.normalized.text[start:end], seed)
            except VoicePackError as error:  # a pack damaged since the server started
                raise EngineUnavailable(f"A voice pack cannot be used: {error}") from error
            duration = len(audio) / engine.sample_rate
            times = alignment.settle(times, duration)
            yield SpeechChunk(
                audio=audio,
                sample_rate=engine.sample_rate,
                offset=offset,
                alignment=self._original_alignment(plan, index, times).shifted(offset),
                normalized_alignment=alignment.build(plan.normalized.text[start:end], times).shifted(offset),
            )
            offset += duration

    def _language(self, request: SpeechRequest, model: Model) -> tuple[str, LanguageSource]:
        if request.language:
            return request.language, "requested"
        candidates = spoken_languages(model, self.engines.languages())
        if len(candidates) == 1:
            return candidates[0], "fallback"  # the only language the model speaks: nothing to detect
        # The context around the text makes a short text's language clearer.
        sample = " ".join((request.previous_text, request.text, request.next_text))
        detected = detect(sample, candidates)
        if detected is None:
            log.info("no language_code given and none detected with confidence; speaking English")
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

    def _normalize(self, request: SpeechRequest, engine: str, language: str) -> NormalizedText:
        wanted = request.normalization == "on" or (
            request.normalization == "auto" and self.engines.needs_phonemes(engine)
        )
        if not wanted:
            return unchanged(request.text)
        return normalize_in_context(request.text, language, request.previous_text, request.next_text)

    def _chunk(
        self, engine: Engine, plan: Plan, realization: VoiceRealization, text: str, seed: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        base = EngineRequest(
            text=text,
            language=plan.language,
            locale=plan.voice.locale_for(plan.language),
            voice=realization,
            speed=plan.request.speed,
            seed=seed,
            stability=plan.request.stability,
        )
        if not engine.needs_phonemes:
            result = engine.synthesize(base)
            return result.audio, result.char_times
        units = text_units(text, plan.language, base.locale)
        audio_parts, time_parts, offset = [], [], 0.0
        for group in split_units(units, engine.max_phonemes):
            result = engine.synthesize(dataclasses.replace(base, units=group))
            audio_parts.append(result.audio)
            time_parts.append(result.char_times + offset)
            offset += len(result.audio) / result.sample_rate
        times = _merge_times(len(text), time_parts)
        audio = np.concatenate(audio_parts) if audio_parts else np.zeros(0, np.float32)
        return audio, times

    def _original_alignment(self, plan: Plan, index: int, times: np.ndarray) -> Alignment:
        source = plan.normalized.source
        start, end = plan.spans[index]
        first = source[start] if index > 0 else 0
        last = source[end] if end < len(source) else len(plan.normalized.original)
        # An expansion's spaces can map to the next chunk's first character ("00:&" reads "zero zero:
        # and", the space before "and" comes from "&"); such characters count for this chunk's last.
        width = max(last - first, 0)
        local = [min(max(i - first, 0), width - 1) for i in source[start:end]] if width else []
        original_times = alignment.to_original(times[: len(local)], local, width)
        duration = float(times[-1, 1]) if len(times) else 0.0
        text = plan.normalized.original[first:last]
        return alignment.build(text, alignment.settle(original_times, duration))


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


def _merge_times(length: int, parts: list[np.ndarray]) -> np.ndarray:
    """Each character takes its time from the group that placed it."""
    times = np.full((length, 2), np.nan)
    for part in parts:
        placed = ~np.isnan(part).any(axis=1)
        times[placed] = part[placed]
    return times

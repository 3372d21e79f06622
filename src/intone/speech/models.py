"""The model catalog: every ElevenLabs model id, what it really runs here, and its documented limits.

A text-to-speech model maps to an engine tier: an ordered list of engines, the first of which that
speaks the request's language does the work. The quality tier prefers Kokoro, the fast tier Piper;
espeak-ng covers languages neither neural engine speaks. The languages a model reports are the
documented ones that at least one of its engines really speaks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from intone.speech.errors import ModelNotFound


class ConcurrencyGroup(StrEnum):
    STANDARD = "standard"  # counted against the "Multilingual v2" concurrency limit
    TURBO = "turbo"  # counted against the "Flash" concurrency limit
    SPEECH_TO_TEXT = "speech_to_text"  # counted against the "STT" concurrency limit


QUALITY_ENGINES = ("kokoro", "piper", "espeak")
FAST_ENGINES = ("piper", "kokoro", "espeak")

_V2_LANGUAGES = (
    "en",
    "ja",
    "zh",
    "de",
    "hi",
    "fr",
    "ko",
    "pt",
    "it",
    "es",
    "id",
    "nl",
    "tr",
    "fil",
    "pl",
    "sv",
    "bg",
    "ro",
    "ar",
    "cs",
    "el",
    "fi",
    "hr",
    "ms",
    "sk",
    "da",
    "ta",
    "uk",
    "ru",
)
_V25_LANGUAGES = (*_V2_LANGUAGES, "hu", "no", "vi")
_V1_LANGUAGES = ("en", "fr", "de", "hi", "it", "pl", "pt", "es")
# Eleven v3's "70+ languages", as ISO 639-1 codes where one exists.
_V3_LANGUAGES = (
    "af",
    "ar",
    "hy",
    "as",
    "az",
    "be",
    "bn",
    "bs",
    "bg",
    "ca",
    "ceb",
    "ny",
    "hr",
    "cs",
    "da",
    "nl",
    "en",
    "et",
    "fil",
    "fi",
    "fr",
    "gl",
    "ka",
    "de",
    "el",
    "gu",
    "ha",
    "he",
    "hi",
    "hu",
    "is",
    "id",
    "ga",
    "it",
    "ja",
    "jv",
    "kn",
    "kk",
    "ky",
    "ko",
    "lv",
    "ln",
    "lt",
    "lb",
    "mk",
    "ms",
    "ml",
    "zh",
    "mr",
    "ne",
    "no",
    "ps",
    "fa",
    "pl",
    "pt",
    "pa",
    "ro",
    "ru",
    "sr",
    "sd",
    "sk",
    "sl",
    "so",
    "es",
    "sw",
    "sv",
    "ta",
    "te",
    "th",
    "tr",
    "uk",
    "ur",
    "vi",
    "cy",
)


@dataclass(frozen=True)
class Model:
    model_id: str
    name: str
    description: str
    documented_languages: tuple[str, ...]
    can_do_text_to_speech: bool = True
    engines: tuple[str, ...] = QUALITY_ENGINES
    character_limit: int = 10_000
    cost_multiplier: float = 1.0
    concurrency_group: ConcurrencyGroup = ConcurrencyGroup.STANDARD


def _tts(
    model_id: str,
    name: str,
    description: str,
    langs: tuple[str, ...],
    *,
    fast: bool,
    limit: int,
) -> Model:
    return Model(
        model_id=model_id,
        name=name,
        description=description,
        documented_languages=langs,
        engines=FAST_ENGINES if fast else QUALITY_ENGINES,
        character_limit=limit,
        cost_multiplier=0.5 if fast else 1.0,
        concurrency_group=ConcurrencyGroup.TURBO if fast else ConcurrencyGroup.STANDARD,
    )


def _other(model_id: str, name: str, description: str, langs: tuple[str, ...]) -> Model:
    return Model(
        model_id=model_id,
        name=name,
        description=description,
        documented_languages=langs,
        can_do_text_to_speech=False,
        engines=(),
    )


DEFAULT_MODEL_ID = "eleven_multilingual_v2"

MODELS: dict[str, Model] = {
    m.model_id: m
    for m in (
        _tts(
            "eleven_multilingual_v2",
            "Eleven Multilingual v2",
            "Quality tier: Kokoro-82M (native packs in en, es, fr, it, pt, hi, zh) where it speaks the "
            "language, espeak-ng elsewhere.",
            _V2_LANGUAGES,
            fast=False,
            limit=10_000,
        ),
        _tts(
            "eleven_v3",
            "Eleven v3",
            "Quality tier: Kokoro-82M where it speaks the language, espeak-ng for the many others.",
            _V3_LANGUAGES,
            fast=False,
            limit=5_000,
        ),
        _tts(
            "eleven_flash_v2_5",
            "Eleven Flash v2.5",
            "Fast tier: Piper for American male voices in English, Kokoro-82M for every other voice and "
            "for its languages, espeak-ng elsewhere.",
            _V25_LANGUAGES,
            fast=True,
            limit=40_000,
        ),
        _tts(
            "eleven_flash_v2",
            "Eleven Flash v2",
            "Fast tier, English only: Piper for American male voices, Kokoro-82M for every other voice.",
            ("en",),
            fast=True,
            limit=30_000,
        ),
        _tts(
            "eleven_turbo_v2_5",
            "Eleven Turbo v2.5",
            "Same as eleven_flash_v2_5 here (deprecated upstream in favour of it).",
            _V25_LANGUAGES,
            fast=True,
            limit=40_000,
        ),
        _tts(
            "eleven_turbo_v2",
            "Eleven Turbo v2",
            "Same as eleven_flash_v2 here (deprecated upstream in favour of it).",
            ("en",),
            fast=True,
            limit=30_000,
        ),
        _tts(
            "eleven_multilingual_v1",
            "Eleven Multilingual v1",
            "Deprecated upstream; runs the quality tier here.",
            _V1_LANGUAGES,
            fast=False,
            limit=10_000,
        ),
        _tts(
            "eleven_monolingual_v1",
            "Eleven English v1",
            "Deprecated upstream; runs the quality tier here (limit assumed as for v1 multilingual).",
            ("en",),
            fast=False,
            limit=10_000,
        ),
        _other(
            "eleven_multilingual_sts_v2",
            "Eleven Multilingual v2 (speech to speech)",
            "Voice changer; not available in Intone.",
            _V2_LANGUAGES,
        ),
        _other(
            "eleven_english_sts_v2",
            "Eleven English v2 (speech to speech)",
            "Voice changer; not available in Intone.",
            ("en",),
        ),
        _other(
            "eleven_english_sts_v1",
            "Eleven English v1 (speech to speech)",
            "Voice changer; not available in Intone.",
            ("en",),
        ),
        _other("eleven_ttv_v3", "Eleven v3 (text to voice)", "Voice design; not available.", _V3_LANGUAGES),
        _other(
            "eleven_multilingual_ttv_v2",
            "Eleven Multilingual v2 (text to voice)",
            "Voice design; not available in Intone.",
            _V2_LANGUAGES,
        ),
        _other("scribe_v2", "Scribe v2", "Speech to text, on Whisper base (POST /v1/speech-to-text).", ()),
        _other(
            "scribe_v2_realtime",
            "Scribe v2 Realtime",
            "Realtime speech to text, on Whisper base (WS /v1/speech-to-text/realtime).",
            (),
        ),
        _other("scribe_v1", "Scribe v1", "Speech to text, on Whisper base (POST /v1/speech-to-text).", ()),
        _other("eleven_text_to_sound_v2", "Eleven Sound Effects v2", "Sound effects; not available.", ()),
        _other("music_v1", "Eleven Music v1", "Music generation; not available in Intone.", ()),
    )
}


def get_model(model_id: str | None) -> Model:
    model = MODELS.get(model_id or DEFAULT_MODEL_ID)
    if model is None:
        raise ModelNotFound(f"Model '{model_id}' does not exist. Known models: {', '.join(MODELS)}.")
    return model


def spoken_languages(model: Model, engine_languages: dict[str, frozenset[str]]) -> tuple[str, ...]:
    """The model's documented languages that one of its engines really speaks, in documented order."""
    spoken = frozenset().union(*(engine_languages.get(name, frozenset()) for name in model.engines))
    return tuple(code for code in model.documented_languages if code in spoken)


def engine_for(
    model: Model,
    language: str,
    engine_languages: dict[str, frozenset[str]],
    can_use: Callable[[str], bool] = lambda engine: True,
) -> str | None:
    """The first engine of the model's tier that speaks `language` and can sound like the voice
    (`can_use`), if the model offers that language."""
    if language not in model.documented_languages:
        return None
    for name in model.engines:
        if language in engine_languages.get(name, frozenset()) and can_use(name):
            return name
    return None

"""Wire shapes of the text-to-speech endpoints, with the exact ElevenLabs field names and defaults.

Every optional field accepts `null` (the Python SDK sends it for an explicit None) and unknown fields
are ignored, so requests written for a newer ElevenLabs API still work. Booleans and numbers are strict,
as the wire contract is: `"yes"` is no boolean and `true` no number (a number may be written as an
integer or a decimal where a decimal is expected); an integer in a query string is written in ASCII digits.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
)

from intone.speech.alignment import Alignment

SEED_MAX = 4294967295
MAX_LOCATORS = 3
MAX_REQUEST_IDS = 3
_DIGITS = re.compile(r"[0-9]+")


def _ascii_digits(value: object) -> object:
    # int() would also read " 5", "+5", "1_0" and full-width digits ("５"); a client writes none of them.
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        raise ValueError("must be a whole number written in the digits 0-9")
    return value


# For an integer query parameter: `Annotated[int, Query(ge=0), AsciiDigits]` (after the Query(), which
# keeps the bounds in the OpenAPI schema), or `Annotated[int, AsciiDigits]` in a model of parameters.
AsciiDigits = BeforeValidator(_ascii_digits)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class VoiceSettings(_Lenient):
    """Voice settings as sent by a client; unset fields fall back to the voice's stored settings."""

    stability: StrictFloat | None = Field(
        default=None, ge=0, le=1, description="0 to 1. Piper: sampling noise."
    )
    similarity_boost: StrictFloat | None = Field(
        default=None, ge=0, le=1, description="0 to 1. Accepted, no effect."
    )
    style: StrictFloat | None = Field(default=None, ge=0, le=1, description="0 to 1. Accepted, no effect.")
    use_speaker_boost: StrictBool | None = Field(default=None, description="Accepted, no effect.")
    speed: StrictFloat | None = Field(
        default=None, ge=0.7, le=1.2, description="0.7 to 1.2; 1 is the voice's pace."
    )


class PronunciationDictionaryLocator(_Lenient):
    pronunciation_dictionary_id: str
    version_id: str | None = None


class TextToSpeechBody(_Lenient):
    text: str = Field(description="The text that will get converted into speech.")
    model_id: str | None = Field(default="eleven_multilingual_v2", description="See GET /v1/models.")
    language_code: str | None = Field(
        default=None,
        description="ISO 639-1 code that enforces a language; rejected if the model can't speak it.",
    )
    voice_settings: VoiceSettings | None = None
    pronunciation_dictionary_locators: list[PronunciationDictionaryLocator] | None = Field(
        default=None,
        max_length=MAX_LOCATORS,
        description="Up to 3 of the key's dictionaries, each at its version_id or (none) its latest; "
        "their rules apply in this order, the first that matches winning.",
    )
    seed: StrictInt | None = Field(
        default=None, ge=0, le=SEED_MAX, description="Same seed and parameters give identical audio."
    )
    previous_text: str | None = Field(default=None, description="Text before this one; read, not spoken.")
    next_text: str | None = Field(default=None, description="Text after this one; read, not spoken.")
    previous_request_ids: list[str] | None = Field(default=None, max_length=MAX_REQUEST_IDS)
    next_request_ids: list[str] | None = Field(default=None, max_length=MAX_REQUEST_IDS)
    use_pvc_as_ivc: StrictBool | None = False
    apply_text_normalization: Literal["auto", "on", "off"] | None = "auto"
    apply_language_text_normalization: StrictBool | None = False

    @field_validator("text", "previous_text", "next_text")
    @classmethod
    def _whole_characters(cls, value: str | None) -> str | None:
        return whole_characters(value)

    @field_validator("text")
    @classmethod
    def _without_nul(cls, value: str) -> str:
        return without_nul(value)


def whole_characters(value: str | None) -> str | None:
    # JSON can carry half of a UTF-16 surrogate pair ("\ud83d"), which is not a character.
    if value is not None and any("\ud800" <= char <= "\udfff" for char in value):
        raise ValueError("holds an unpaired UTF-16 surrogate, which is not a character")
    return value


def without_nul(value: str) -> str:
    # NUL is never spoken and PostgreSQL cannot store it in the history: it is dropped before the text
    # is counted, so the credits charged and the history item agree on every database.
    return value.replace("\0", "")


class CharacterAlignment(BaseModel):
    characters: list[str]
    character_start_times_seconds: list[float]
    character_end_times_seconds: list[float]

    @staticmethod
    def of(parts: list[Alignment]) -> CharacterAlignment | None:
        """Joins chunk alignments (already timed from the response start); None when there are none."""
        if not any(part.characters for part in parts):
            return None
        return CharacterAlignment(
            characters=[c for part in parts for c in part.characters],
            character_start_times_seconds=[round(t, 3) for part in parts for t in part.starts],
            character_end_times_seconds=[round(t, 3) for part in parts for t in part.ends],
        )


class AudioWithTimestamps(BaseModel):
    audio_base64: str
    alignment: CharacterAlignment | None
    normalized_alignment: CharacterAlignment | None

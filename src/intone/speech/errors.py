"""Errors the speech layer raises, each with the API status code it stands for."""

from __future__ import annotations


class SpeechError(Exception):
    """A request the speech layer cannot honour; `status` is the ElevenLabs error code."""

    status = "invalid_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class VoiceNotFound(SpeechError, LookupError):
    status = "voice_not_found"


class ModelNotFound(SpeechError, LookupError):
    status = "model_not_found"


class ModelCannotSpeak(SpeechError):
    status = "model_can_not_do_text_to_speech"


class PronunciationDictionaryNotFound(SpeechError, LookupError):
    status = "pronunciation_dictionary_not_found"


class TextEmpty(SpeechError):
    status = "text_empty"


class TextTooLong(SpeechError):
    status = "max_character_limit_exceeded"


class UnsupportedLanguage(SpeechError):
    status = "unsupported_language"


class InvalidVoiceSettings(SpeechError):
    status = "invalid_voice_settings"


class EngineUnavailable(SpeechError):
    """An engine or its voice data cannot be used (missing or damaged files): the server's fault, and
    what fixes it is in the message."""

    status = "service_unavailable"


class InvalidMarkup(SpeechError):
    """A break or phoneme tag (or a pronunciation rule) that cannot be read: never spoken as text."""

    status = "invalid_markup"

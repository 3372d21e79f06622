"""Errors transcription raises; like the speech layer's, each carries its API status code."""

from __future__ import annotations

from intone.speech.errors import SpeechError


class InvalidAudio(SpeechError):
    """The upload is not audio that can be read."""

    status = "invalid_audio"


class AudioTooLong(SpeechError):
    status = "audio_too_long"

"""OpenAI's model and voice names, and the Intone model and voice each one stands for (docs/openai.md).

The speech models map by what OpenAI offers them for: `tts-1` for low latency to the fast tier
(eleven_flash_v2_5: Piper for American male voices, Kokoro for the others), the others to the quality
tier (eleven_multilingual_v2: Kokoro). Each OpenAI voice maps to an ElevenLabs premade voice of the same
gender (alloy, which OpenAI does not gender, to River, the one neutral voice), where one exists with
the same Kokoro pack name (echo, fable, onyx), else one of a like character. Any Intone model id, and
any Intone voice id or name, is taken as it is.
"""

from __future__ import annotations

from intone.speech.models import get_model
from intone.speech.voices import Voice, get_voice

FAST_MODEL = "eleven_flash_v2_5"
QUALITY_MODEL = "eleven_multilingual_v2"

SPEECH_MODELS: dict[str, str] = {
    "tts-1": FAST_MODEL,
    "tts-1-hd": QUALITY_MODEL,
    "gpt-4o-mini-tts": QUALITY_MODEL,
    "gpt-4o-mini-tts-2025-12-15": QUALITY_MODEL,
}

# OpenAI voice -> premade voice name (the catalog has each one's id, gender and accent).
VOICES: dict[str, str] = {
    "alloy": "River",  # neutral
    "ash": "Eric",  # male
    "ballad": "George",  # male, British
    "cedar": "Roger",  # male
    "coral": "Jessica",  # female
    "echo": "Will",  # male, Kokoro's am_echo
    "fable": "Charlie",  # male, Kokoro's bm_fable
    "marin": "Aria",  # female
    "nova": "Laura",  # female
    "onyx": "Brian",  # male, deep: Kokoro's am_onyx
    "sage": "Matilda",  # female
    "shimmer": "Sarah",  # female, soft
    "verse": "Liam",  # male
}


def speech_model(name: str) -> str:
    """The Intone model id for an OpenAI model name or an Intone model id. Raises ModelNotFound."""
    model_id = SPEECH_MODELS.get(name, name)
    get_model(model_id)
    return model_id


def voice(name: str) -> Voice:
    """The Intone voice for an OpenAI voice name, or an Intone voice id or name. Raises VoiceNotFound."""
    return get_voice(VOICES.get(name.lower(), name))

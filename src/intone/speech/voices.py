"""The voice catalog: Intone's voices, each realized on every engine, under ElevenLabs' premade ids.

Kokoro realizations are blends of the five bundled voice packs (one male, four female); blends land
between their parents' pitch and timbre, which is how ten distinct voices come out of five packs. The
bundled Piper model has a single speaker, so on Piper voices differ only in pace. espeak-ng realizations
use its voice variants and base pitch.

The ids are the premade voice ids used throughout the ElevenLabs documentation, so sample code that
names `JBFqnCBsd6RMkjVDRZzb` (George) or `21m00Tcm4TlvDq8ikWAM` (Rachel) runs unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from intone.engines.base import VoiceRealization
from intone.speech.errors import VoiceNotFound


@dataclass(frozen=True)
class Voice:
    voice_id: str
    name: str
    gender: str
    accent: str
    age: str
    use_case: str
    description: str
    kokoro: VoiceRealization
    piper: VoiceRealization
    espeak: VoiceRealization
    descriptive: str = ""

    @property
    def labels(self) -> dict[str, str]:
        labels = {"gender": self.gender, "accent": self.accent, "age": self.age, "use_case": self.use_case}
        if self.descriptive:
            labels["descriptive"] = self.descriptive
        return labels

    def realization(self, engine: str) -> VoiceRealization:
        return getattr(self, engine)


def _voice(
    voice_id: str,
    name: str,
    labels: tuple[str, str, str, str, str],
    description: str,
    packs: tuple[tuple[str, float], ...],
    variant: str,
    pitch: int,
    tempo: float = 1.0,
) -> Voice:
    gender, accent, age, use_case, descriptive = labels
    return Voice(
        voice_id=voice_id,
        name=name,
        gender=gender,
        accent=accent,
        age=age,
        use_case=use_case,
        descriptive=descriptive,
        description=description,
        kokoro=VoiceRealization(packs=packs, tempo=tempo),
        piper=VoiceRealization(tempo=tempo),
        espeak=VoiceRealization(variant=variant, pitch=pitch, tempo=tempo),
    )


VOICES: tuple[Voice, ...] = (
    _voice(
        "21m00Tcm4TlvDq8ikWAM",
        "Rachel",
        ("female", "american", "young", "narration", "calm"),
        "A calm, clear female voice for narration (Kokoro jf_gongitsune).",
        (("jf_gongitsune", 1.0),),
        "f2",
        55,
    ),
    _voice(
        "JBFqnCBsd6RMkjVDRZzb",
        "George",
        ("male", "british", "middle_aged", "narration", "warm"),
        "A warm, steady male storyteller (Kokoro jm_kumo).",
        (("jm_kumo", 1.0),),
        "m3",
        40,
    ),
    _voice(
        "EXAVITQu4vr4xnSDxMaL",
        "Sarah",
        ("female", "american", "young", "news", "professional"),
        "A bright, confident female voice (Kokoro jf_alpha).",
        (("jf_alpha", 1.0),),
        "f4",
        60,
    ),
    _voice(
        "pNInz6obpgDQGcFmaJgB",
        "Adam",
        ("male", "american", "middle_aged", "narration", "deep"),
        "A deep male voice, a touch slower (Kokoro jm_kumo with a little jf_gongitsune).",
        (("jm_kumo", 0.85), ("jf_gongitsune", 0.15)),
        "m1",
        35,
        0.95,
    ),
    _voice(
        "MF3mGyEYCl7XYWbV9V6O",
        "Elli",
        ("female", "american", "young", "conversational", "emotional"),
        "A soft, youthful female voice (Kokoro jf_nezumi).",
        (("jf_nezumi", 1.0),),
        "f5",
        65,
    ),
    _voice(
        "cgSgspJ2msm6clMCkdW9",
        "Jessica",
        ("female", "american", "young", "conversational", "expressive"),
        "A lively female voice (Kokoro jf_tebukuro).",
        (("jf_tebukuro", 1.0),),
        "f3",
        62,
        1.05,
    ),
    _voice(
        "onwK4e9ZLuTAKqWW03F9",
        "Daniel",
        ("male", "british", "middle_aged", "news", "authoritative"),
        "A composed male presenter (blend 0.7 jm_kumo + 0.3 jf_alpha).",
        (("jm_kumo", 0.7), ("jf_alpha", 0.3)),
        "m7",
        45,
    ),
    _voice(
        "TxGEqnHWrfWFTfGW9XjX",
        "Josh",
        ("male", "american", "young", "conversational", "casual"),
        "A relaxed young male voice, a little quicker (blend 0.75 jm_kumo + 0.25 jf_tebukuro).",
        (("jm_kumo", 0.75), ("jf_tebukuro", 0.25)),
        "m2",
        50,
        1.05,
    ),
    _voice(
        "XB0fDUnXU5powFXDhCwa",
        "Charlotte",
        ("female", "swedish", "middle_aged", "characters", "seductive"),
        "A low, smooth female voice (blend 0.6 jf_gongitsune + 0.4 jm_kumo).",
        (("jf_gongitsune", 0.6), ("jm_kumo", 0.4)),
        "f1",
        48,
    ),
    _voice(
        "nPczCjzI2devNBz1zQrb",
        "Brian",
        ("male", "american", "middle_aged", "narration", "deep"),
        "A resonant narrator, unhurried (blend 0.5 jm_kumo + 0.5 jf_alpha).",
        (("jm_kumo", 0.5), ("jf_alpha", 0.5)),
        "m4",
        42,
        0.92,
    ),
    _voice(
        "pFZP5JQG7iQjIQuC4Bku",
        "Lily",
        ("female", "british", "middle_aged", "narration", "warm"),
        "A warm female reader (blend 0.5 jf_nezumi + 0.5 jf_gongitsune).",
        (("jf_nezumi", 0.5), ("jf_gongitsune", 0.5)),
        "f2",
        58,
        0.97,
    ),
    _voice(
        "IKne3meq5aSn9XLyUdCD",
        "Charlie",
        ("male", "australian", "middle_aged", "conversational", "natural"),
        "An easy-going male voice (blend 0.6 jm_kumo + 0.4 jf_nezumi).",
        (("jm_kumo", 0.6), ("jf_nezumi", 0.4)),
        "m6",
        52,
        1.03,
    ),
)

DEFAULT_VOICE_ID = "21m00Tcm4TlvDq8ikWAM"
_BY_ID = {voice.voice_id: voice for voice in VOICES}
_BY_NAME = {voice.name.lower(): voice for voice in VOICES}


def get_voice(voice_id_or_name: str) -> Voice:
    """Looks a voice up by its id, or (for the CLI's convenience) by its name, case-insensitively."""
    voice = _BY_ID.get(voice_id_or_name) or _BY_NAME.get(voice_id_or_name.lower())
    if voice is None:
        raise VoiceNotFound(f"A voice with voice_id '{voice_id_or_name}' was not found.")
    return voice

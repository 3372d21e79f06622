"""The voice catalog: every Kokoro v1.0 pack as a voice, and ElevenLabs' premade voices on top.

A voice is a person: a name, a gender, an accent and a language of its own. It sounds like that person
on every engine and model:

- On Kokoro it is its own pack (or blend of packs) in its own language. A premade voice in another
  language uses the native pack of that language with its gender (`NATIVE_PACKS`), so the words sound
  native. A voice named after a pack (`ef_dora`) is that pack in every language, with its accent.
- On Piper only if Piper can realize it: the one bundled speaker (Joe) is an American man, so American
  English male voices may run there, and every other voice runs on Kokoro on the fast models too.
- On espeak-ng it is a variant and pitch of the voice's gender, for languages nothing else speaks.

The catalog is data: `data/premade-voices.json` (ElevenLabs' premade ids, their labels, and the packs
chosen for each by measurement; docs/voices.md has the numbers) and the voice-pack manifest.
"""

from __future__ import annotations

import importlib.resources
import json
from dataclasses import dataclass
from functools import cache

from intone.engines.base import VoiceRealization
from intone.engines.voice_packs import PackInfo, manifest
from intone.speech.errors import VoiceNotFound

_PREMADE = importlib.resources.files("intone.speech") / "data" / "premade-voices.json"

# The pack (or blend) a voice uses to speak a language that is not its own, by language and gender:
# a native pack of that language where Kokoro has one, chosen by measurement (docs/voices.md). French
# has only a female pack; its male voice is a blend led by an Italian male pack, which stays male
# (about 140 Hz) and was the most intelligible French of the male candidates. German has no pack; the
# Italian packs speak it far more clearly (WER 0.13-0.17) than the English (0.35-0.74) or Japanese ones.
NATIVE_PACKS: dict[tuple[str, str], tuple[tuple[str, float], ...]] = {
    ("en", "female"): (("af_heart", 1.0),),
    ("en", "male"): (("am_michael", 1.0),),
    ("es", "female"): (("ef_dora", 1.0),),
    ("es", "male"): (("em_alex", 1.0),),
    ("fr", "female"): (("ff_siwis", 1.0),),
    ("fr", "male"): (("im_nicola", 0.65), ("ff_siwis", 0.35)),
    ("it", "female"): (("if_sara", 1.0),),
    ("it", "male"): (("im_nicola", 1.0),),
    ("pt", "female"): (("pf_dora", 1.0),),
    ("pt", "male"): (("pm_alex", 1.0),),
    ("hi", "female"): (("hf_alpha", 1.0),),
    ("hi", "male"): (("hm_omega", 1.0),),
    ("zh", "female"): (("zf_xiaoxiao", 1.0),),
    ("zh", "male"): (("zm_yunjian", 1.0),),
    ("de", "female"): (("if_sara", 1.0),),
    ("de", "male"): (("im_nicola", 1.0),),
}
_ACCENTS = {
    "en-US": "american",
    "en-GB": "british",
    "es-ES": "spanish",
    "fr-FR": "french",
    "hi-IN": "indian",
    "it-IT": "italian",
    "ja-JP": "japanese",
    "pt-BR": "brazilian",
    "zh-CN": "chinese",
}
# espeak-ng variants for the packs' voices, by gender (packs are female or male).
_ESPEAK_DEFAULTS = {"female": ("f2", 58), "male": ("m3", 42)}
# Every Kokoro voice is brought to this active-speech loudness, where Piper and espeak-ng speak too.
LOUDNESS_DB = -21.0
_PEAK_LIMIT = 0.95
# The one Piper speaker's accent and gender.
_PIPER_SPEAKER = ("american", "male")


@dataclass(frozen=True)
class Voice:
    voice_id: str
    name: str
    gender: str  # "female", "male" or "neutral"
    accent: str
    locale: str  # the voice's own language variety, e.g. "en-GB"
    description: str
    packs: tuple[tuple[str, float], ...]  # its Kokoro blend in its own language
    espeak_variant: str
    espeak_pitch: int
    tempo: float = 1.0
    age: str = ""
    descriptive: str = ""
    use_case: str = ""
    premade: bool = False  # one of ElevenLabs' premade voices (its real id)
    legacy: bool = False  # no longer in ElevenLabs' default list, kept for old code

    @property
    def language(self) -> str:
        return self.locale.split("-")[0]

    @property
    def labels(self) -> dict[str, str]:
        labels = {
            "gender": self.gender,
            "accent": self.accent,
            "age": self.age,
            "descriptive": self.descriptive,
            "use_case": self.use_case,
            "language": self.language,
        }
        return {key: value for key, value in labels.items() if value}

    def can_use(self, engine: str) -> bool:
        """Whether `engine` can sound like this voice at all (Piper has one American male speaker)."""
        if engine == "piper":
            return (self.accent, self.gender) == _PIPER_SPEAKER
        return True

    def kokoro_packs(self, language: str) -> tuple[tuple[str, float], ...]:
        """The blend that speaks `language`: its own, or (for a premade voice) the native one of its
        gender there. A pack's own voice is that pack in every language, with its accent."""
        if language == self.language or not self.premade:
            return self.packs
        if self.gender == "neutral":
            female = NATIVE_PACKS.get((language, "female"))
            male = NATIVE_PACKS.get((language, "male"))
            if female and male:
                return tuple((pack, weight / 2) for pack, weight in (*female, *male))
        return NATIVE_PACKS.get((language, self.gender), self.packs)

    def native_varieties(self, kokoro_languages: frozenset[str]) -> tuple[tuple[str, str, str], ...]:
        """(language, accent, locale) of every language the voice speaks with a native Kokoro pack:
        its own first (if Kokoro speaks it), then those where a native pack of its gender stands in."""
        own = ((self.language, self.accent, self.locale),) if self.language in kokoro_languages else ()
        others = []
        for (language, gender), blend in NATIVE_PACKS.items():
            if not self.premade or gender != self.gender or language == self.language:
                continue
            locale = manifest().packs[blend[0][0]].locale
            if locale.startswith(language):  # a stand-in from another language is not native
                others.append((language, _ACCENTS.get(locale, locale), locale))
        return own + tuple(others)

    def native_languages(self, kokoro_languages: frozenset[str]) -> tuple[str, ...]:
        return tuple(language for language, _, _ in self.native_varieties(kokoro_languages))

    def locale_for(self, language: str) -> str | None:
        """The voice's own locale when it speaks its own language (British voices keep British
        pronunciation), else None: the language's usual variety."""
        return self.locale if language == self.language else None

    def realization(self, engine: str, language: str) -> VoiceRealization:
        if engine == "kokoro":
            packs = self.kokoro_packs(language)
            return VoiceRealization(packs=packs, tempo=self.tempo, gain=_level(packs))
        if engine == "espeak":
            return VoiceRealization(variant=self.espeak_variant, pitch=self.espeak_pitch, tempo=self.tempo)
        return VoiceRealization(tempo=self.tempo)


def _level(packs: tuple[tuple[str, float], ...]) -> float:
    """The gain that brings a blend to the common loudness: the packs differ by up to 12 dB at the
    engine's fixed gain. A blend is taken to sound like the weighted mean of its packs; the gain never
    lifts the measured peak above `_PEAK_LIMIT`."""
    infos = manifest().packs
    total = sum(weight for _, weight in packs)
    loudness = sum(weight * infos[name].loudness_db for name, weight in packs) / total
    peak = sum(weight * infos[name].peak for name, weight in packs) / total
    return min(10 ** ((LOUDNESS_DB - loudness) / 20), _PEAK_LIMIT / peak)


class VoiceCatalog:
    def __init__(self, voices: tuple[Voice, ...], default_voice_id: str) -> None:
        self.voices = voices
        self.default_voice_id = default_voice_id
        self._by_id = {voice.voice_id: voice for voice in voices}
        self._by_name: dict[str, Voice] = {}
        # Premade voices come first, so their names win over packs of the same name ("Sarah").
        for voice in voices:
            self._by_name.setdefault(voice.name.lower(), voice)

    def get(self, voice_id_or_name: str) -> Voice:
        """A voice by its id, or by its name, case-insensitively ("aria", "George")."""
        voice = self._by_id.get(voice_id_or_name) or self._by_name.get(voice_id_or_name.strip().lower())
        if voice is None:
            raise VoiceNotFound(f"A voice with voice_id '{voice_id_or_name}' was not found.")
        return voice


@cache
def catalog() -> VoiceCatalog:
    data = json.loads(_PREMADE.read_text(encoding="utf-8"))
    premade = tuple(_premade(entry) for entry in data["voices"])
    packs = tuple(_pack_voice(info) for info in manifest().packs.values())
    return VoiceCatalog(premade + packs, data["default_voice_id"])


def _premade(entry: dict) -> Voice:
    gender, accent, age, descriptive, use_case = entry["labels"]
    variant, pitch = entry["espeak"]
    return Voice(
        voice_id=entry["voice_id"],
        name=entry["name"],
        gender=gender,
        accent=accent,
        locale=entry["locale"],
        description=entry["description"],
        packs=tuple(entry["packs"].items()),
        espeak_variant=variant,
        espeak_pitch=pitch,
        tempo=entry.get("tempo", 1.0),
        age=age,
        descriptive=descriptive,
        use_case=use_case,
        premade=True,
        legacy=entry.get("legacy", False),
    )


def _pack_voice(info: PackInfo) -> Voice:
    """A voice for one Kokoro pack: its id is the pack's name (`af_heart`), its name Kokoro's with the
    locale ("Heart (en-US)"), unique beside the premade voices and the packs of other languages."""
    variant, pitch = _ESPEAK_DEFAULTS[info.gender]
    grade = f", Kokoro grade {info.grade}" if info.grade else ""
    return Voice(
        voice_id=info.name,
        name=f"{info.name.split('_', 1)[1].capitalize()} ({info.locale})",
        gender=info.gender,
        accent=_ACCENTS.get(info.locale, info.locale),
        locale=info.locale,
        description=f"Kokoro v1.0 voice pack {info.name} ({info.locale}, {info.gender}{grade}).",
        packs=((info.name, 1.0),),
        espeak_variant=variant,
        espeak_pitch=pitch,
    )


def get_voice(voice_id_or_name: str) -> Voice:
    return catalog().get(voice_id_or_name)

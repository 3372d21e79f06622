"""A small ctypes binding to the libespeak-ng that `espeakng-loader` ships.

espeak-ng keeps global state (current voice, parameters, the synthesis callback), so every call goes
through one process-wide lock. It is fast enough (a few milliseconds per sentence) that the lock costs
nothing worth measuring next to the neural engines.
"""

from __future__ import annotations

import ctypes
import re
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import espeakng_loader
import numpy as np

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PHONEMES_IPA = 0x02
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_PARAM_RATE = 1
_PARAM_PITCH = 3

# espeak marks a switch to another language's rules inside its IPA output as "(fr)" ... "(en)".
_LANGUAGE_FLAG = re.compile(r"\([a-z][a-z0-9-]*\)")


class _EventId(ctypes.Union):
    _fields_ = (("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8))


class _Event(ctypes.Structure):
    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    )


_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class WordEvent:
    """A word espeak spoke: its character offset and length in the input, and when it starts."""

    text_position: int  # 0-based character index into the synthesized text
    length: int
    seconds: float


class EspeakError(RuntimeError):
    pass


class _Library:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self._declare()
        data = espeakng_loader.get_data_path().encode()
        rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, 0)
        if rate <= 0:
            raise EspeakError("libespeak-ng failed to initialize")
        self.sample_rate: int = rate
        self._voice = ""
        self._samples: list[np.ndarray] = []
        self._words: list[WordEvent] = []
        # Kept on the instance: ctypes frees a callback whose Python object is collected.
        self._callback = _Callback(self._on_audio)
        self.lib.espeak_SetSynthCallback(self._callback)

    def _declare(self) -> None:
        lib = self.lib
        lib.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_TextToPhonemes.argtypes = (ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int)
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = (
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        )
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = (_Callback,)
        lib.espeak_SetSynthCallback.restype = None

    def _on_audio(self, wav: ctypes.Array, count: int, events: ctypes.Array) -> int:
        if count > 0:
            self._samples.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        index = 0
        while events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            if event.type == _EVENT_WORD:
                self._words.append(
                    WordEvent(event.text_position - 1, event.length, event.audio_position / 1000.0)
                )
            index += 1
        return 0

    def set_voice(self, name: str) -> None:
        if name == self._voice:
            return
        if self.lib.espeak_SetVoiceByName(name.encode()) != 0:
            raise EspeakError(f"espeak-ng has no voice {name!r}")
        self._voice = name

    def phonemize(self, voice: str, text: str) -> list[str]:
        """IPA for `text`, one string per clause espeak found, language-switch flags removed."""
        with self.lock:
            self.set_voice(voice)
            buffer = ctypes.create_string_buffer(text.encode())
            pointer = ctypes.c_char_p(ctypes.addressof(buffer))
            clauses = []
            while pointer.value:
                result = self.lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, _PHONEMES_IPA)
                clauses.append(_LANGUAGE_FLAG.sub("", (result or b"").decode()))
            return clauses

    def synthesize(self, voice: str, text: str, rate: int, pitch: int) -> tuple[np.ndarray, list[WordEvent]]:
        """int16 samples at `sample_rate` and the start of every spoken word."""
        with self.lock:
            self.set_voice(voice)
            self.lib.espeak_SetParameter(_PARAM_RATE, rate, 0)
            self.lib.espeak_SetParameter(_PARAM_PITCH, pitch, 0)
            self._samples, self._words = [], []
            data = text.encode() + b"\0"
            status = self.lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            if status != 0:
                raise EspeakError(f"espeak-ng synthesis failed with status {status}")
            samples = np.concatenate(self._samples) if self._samples else np.zeros(0, np.int16)
            return samples, self._words


_created: list[_Library] = []
_creating = threading.Lock()


def library() -> _Library:
    """The one library of the process. Made under a lock: two threads starting at once (two first
    requests) would otherwise each initialize espeak-ng and then use its global state unserialized."""
    if not _created:
        with _creating:
            if not _created:
                _created.append(_Library())
    return _created[0]


@cache
def voice_names() -> frozenset[str]:
    """Every language voice in the bundled data, lowercased (for example 'en-us', 'pt-br', 'cmn')."""
    root = Path(espeakng_loader.get_data_path()) / "lang"
    return frozenset(path.name.lower() for path in root.rglob("*") if path.is_file())


@cache
def variant_names() -> frozenset[str]:
    root = Path(espeakng_loader.get_data_path()) / "voices" / "!v"
    return frozenset(path.name for path in root.iterdir() if path.is_file())


# Where an API language code and espeak-ng's voice name differ. Portuguese defaults to the Brazilian
# voice, the variety engines.md measured.
_VOICE_OVERRIDES = {"en": "en-us", "zh": "cmn", "no": "nb", "pt": "pt-br"}
# Varieties a voice may speak in (its own locale); espeak-ng's plain "en" is British English.
_LOCALES = {"en-GB": "en", "en-US": "en-us", "pt-BR": "pt-br"}
# espeak-ng has a voice for these, but it cannot read the language's usual script (Japanese kanji come
# out as "Chinese letter"), so claiming them would not be honest.
_UNUSABLE = frozenset({"ja"})


def voice_for(language: str, locale: str | None = None) -> str | None:
    """The espeak-ng voice that speaks API language `language` (in the variety `locale`, such as
    "en-GB", where espeak-ng has it), or None when espeak-ng cannot speak the language."""
    if language in _UNUSABLE:
        return None
    name = _LOCALES.get(locale or "", _VOICE_OVERRIDES.get(language, language))
    return name if name in voice_names() else None


@cache
def languages() -> frozenset[str]:
    """Language codes (ISO 639-1 where one exists) that espeak-ng really speaks."""
    codes = {name for name in voice_names() if "-" not in name} | set(_VOICE_OVERRIDES)
    return frozenset(code for code in codes if voice_for(code) is not None)

"""Voice previews: a short sample of each voice, made once on first request and kept as an MP3 file.

A voice's `preview_url` points here, so clients that play previews (voice pickers, playgrounds) work
offline. The file name carries a digest of everything that shapes the sample (text, realization,
engine, format), so a changed voice or sentence makes a new file instead of serving a stale one.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from pathlib import Path

from intone.audio.formats import parse_output_format
from intone.rendering import render
from intone.speech.synthesizer import SpeechRequest, Synthesizer
from intone.speech.voices import Voice

FORMAT = "mp3_44100_128"
MODEL_ID = "eleven_multilingual_v2"
# One sentence per language the voices speak natively; other voices introduce themselves in English.
_SENTENCES = {
    "en": "Hello, I'm {name}. This is how I sound when I read to you.",
    "es": "Hola, soy {name}. Así suena mi voz cuando te leo.",
    "fr": "Bonjour, je suis {name}. Voici comment je sonne quand je vous lis.",
    "it": "Ciao, sono {name}. Ecco come suona la mia voce quando ti leggo.",
    "pt": "Olá, eu sou {name}. É assim que soa a minha voz quando leio para você.",
    "hi": "नमस्ते, मैं {name} हूँ। यह मेरी आवाज़ है।",
    "zh": "你好，我是{name}。这就是我朗读时的声音。",
}


class Previews:
    def __init__(self, synthesizer: Synthesizer, directory: Path) -> None:
        self._synthesizer = synthesizer
        self._directory = directory
        # One sample is made at a time: a burst of preview requests must not take every core.
        self._lock = threading.Lock()

    def path(self, voice: Voice) -> Path:
        """The sample's file, made now if it does not exist yet. Blocking: call it from a thread."""
        request = _request(voice)
        plan = self._synthesizer.plan(request)
        realization = plan.voice.realization(plan.engine, plan.language)
        key = repr((request.text, plan.language, plan.engine, realization, FORMAT)).encode()
        path = self._directory / f"{voice.voice_id}-{hashlib.sha256(key).hexdigest()[:16]}.mp3"
        if path.is_file():
            return path
        with self._lock:
            if not path.is_file():
                audio = b"".join(
                    piece.audio for piece in render(self._synthesizer, plan, parse_output_format(FORMAT))
                )
                _write_atomically(path, audio)
        return path


def _request(voice: Voice) -> SpeechRequest:
    language = voice.language if voice.language in _SENTENCES else "en"
    text = _SENTENCES[language].format(name=voice.name)
    return SpeechRequest(text=text, voice_id=voice.voice_id, model_id=MODEL_ID, language=language, seed=0)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as file:
        file.write(data)
    os.replace(file.name, path)

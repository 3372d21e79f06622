"""Voice previews: a short sample of each voice, made once on first request and kept as an MP3 file.

A voice's `preview_url` points here, so clients that play previews (voice pickers, playgrounds) work
offline. The file name carries a digest of everything that shapes the sample (text, realization,
engine, format), so a changed voice or sentence makes a new file instead of serving a stale one.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from pathlib import Path

from intone.audio.formats import parse_output_format
from intone.engines import voice_packs
from intone.rendering import render
from intone.scheduling.scheduler import Scheduler
from intone.speech.synthesizer import Plan, SpeechRequest, Synthesizer
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
    """Makes each sample once. Requests for a sample being made wait for it without holding a thread,
    and one sample is made at a time on the engine workers, so a burst of preview requests (they
    need no key) cannot take the server's threads or every core."""

    def __init__(self, synthesizer: Synthesizer, directory: Path) -> None:
        self._synthesizer = synthesizer
        self._directory = directory
        self._making: dict[Path, asyncio.Future[Path]] = {}
        self._one_at_a_time = asyncio.Lock()

    async def path(self, voice: Voice, scheduler: Scheduler) -> Path:
        """The sample's file, made now if it does not exist yet."""
        plan = self._synthesizer.plan(_request(voice))
        path = self._directory / f"{voice.voice_id}-{_digest(plan)}.mp3"
        if path.is_file():
            return path
        making = self._making.get(path)
        if making is None:
            making = asyncio.ensure_future(self._make(plan, path, scheduler))
            self._making[path] = making
            making.add_done_callback(lambda _: self._making.pop(path, None))
        # A client that leaves does not cancel the sample others may be waiting for.
        return await asyncio.shield(making)

    async def _make(self, plan: Plan, path: Path, scheduler: Scheduler) -> Path:
        async with self._one_at_a_time:
            if not path.is_file():
                await scheduler.call(lambda: self._render(plan, path))
        return path

    def _render(self, plan: Plan, path: Path) -> None:
        pieces = render(self._synthesizer, plan, parse_output_format(FORMAT))
        _write_atomically(path, b"".join(piece.audio for piece in pieces))


def _digest(plan: Plan) -> str:
    """Everything that shapes the sample, the packs' own digests included (an upgraded pack set makes
    new samples)."""
    realization = plan.voice.realization(plan.engine, plan.language)
    packs = [voice_packs.manifest().packs[name].sha256 for name, _ in realization.packs]
    key = repr((plan.request.text, plan.language, plan.engine, realization, packs, FORMAT))
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _request(voice: Voice) -> SpeechRequest:
    language = voice.language if voice.language in _SENTENCES else "en"
    text = _SENTENCES[language].format(name=voice.name)
    return SpeechRequest(text=text, voice_id=voice.voice_id, model_id=MODEL_ID, language=language, seed=0)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as file:
        file.write(data)
    os.replace(file.name, path)

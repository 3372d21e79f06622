"""Voice benchmark: every voice's intelligibility (whisper WER), median pitch and real-time factor.

Run: .venv/bin/python bench/voices.py   (prints a table and updates docs/voices.md)

Each voice speaks the sentence set of its own language on eleven_multilingual_v2 where Kokoro speaks
that language, else English (the Japanese packs, whose front end is not wired in). English is
transcribed by whisper tiny.en, other languages by multilingual whisper base; Mandarin is scored by
characters (CER). The real-time factor is synthesis time over audio time with one engine thread.
"""

from __future__ import annotations

import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.utils.pitch import median_pitch
from tests.utils.sentences import SENTENCES
from tests.utils.whisper import transcribe, word_error_rate

from intone.engines.kokoro import KokoroEngine
from intone.engines.registry import EngineSet
from intone.speech.synthesizer import SpeechRequest, Synthesizer
from intone.speech.voices import Voice, catalog
from report import write_section

DOC = Path(__file__).resolve().parent.parent / "docs" / "voices.md"


def measure(synth: Synthesizer, voice: Voice, model_id: str, language: str) -> dict[str, object]:
    sentences = SENTENCES[language]
    audios, compute = [], 0.0
    for text in sentences:
        plan = synth.plan(
            SpeechRequest(text=text, voice_id=voice.voice_id, model_id=model_id, language=language, seed=1)
        )
        started = time.perf_counter()
        audios.append(np.concatenate([chunk.audio for chunk in synth.stream(plan)]))
        compute += time.perf_counter() - started
    rate = synth.engines.get(plan.engine).sample_rate
    # Whisper base writes Hindi speech in Urdu script: a Hindi WER would measure the script, not the voice.
    heard = [transcribe(audio, rate, language) for audio in audios] if language != "hi" else None
    seconds = sum(len(audio) for audio in audios) / rate
    packs = plan.voice.realization(plan.engine, language).packs if plan.engine == "kokoro" else ()
    return {
        "engine": plan.engine,
        "packs": " + ".join(f"{weight:g} {pack}" if weight != 1 else pack for pack, weight in packs) or "joe",
        "wer": word_error_rate(list(sentences), heard, language) if heard is not None else None,
        "pitch": median_pitch(np.concatenate(audios), rate),
        "rtf": compute / seconds,
    }


def _wer(wer: object) -> str:
    return f"{wer:.3f}" if isinstance(wer, float) else "n/a"


def main() -> None:
    with tempfile.TemporaryDirectory() as data:
        synth = Synthesizer(EngineSet(Path(data), threads=1))
        synth.plan(SpeechRequest(text="Warm up."))
        list(synth.stream(synth.plan(SpeechRequest(text="Warm up the engines first."))))
        rows = []
        for voice in catalog().voices:
            language = voice.language if voice.language in KokoroEngine.languages else "en"
            result = measure(synth, voice, "eleven_multilingual_v2", language)
            rows.append((voice, language, "eleven_multilingual_v2", result))
            if voice.premade and voice.can_use("piper"):
                rows.append(
                    (voice, "en", "eleven_flash_v2_5", measure(synth, voice, "eleven_flash_v2_5", "en"))
                )
            print(
                f"{voice.name:<10} {voice.voice_id:<20} {language} {result['engine']:<6} "
                f"WER {_wer(result['wer'])} pitch {result['pitch']:.0f} Hz RTF {result['rtf']:.2f}",
                flush=True,
            )
    header = [
        f"Measured {datetime.date.today()} on {os.cpu_count()} cores, one engine thread: `bench/voices.py`.",
        "",
        "| voice | voice_id | gender | accent | language | model | engine | realization | WER | pitch (Hz) "
        "| RTF |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines = [
        f"| {voice.name} | `{voice.voice_id}` | {voice.gender} | {voice.accent} | {language} | {model} | "
        f"{r['engine']} | {r['packs']} | {_wer(r['wer'])} | {r['pitch']:.0f} | {r['rtf']:.2f} |"
        for voice, language, model, r in rows
    ]
    write_section("voices", "\n".join(header + lines), DOC)


if __name__ == "__main__":
    main()

"""Measures each Kokoro voice pack's loudness and records it in the pack manifest.

Run: .venv/bin/python bench/pack_loudness.py   (rewrites `loudness_db` and `peak` in
src/intone/engines/data/kokoro-voices.json; each voice is scaled to the same loudness with them)

Each pack speaks three sentences of its own language (English for the Japanese packs) with no
per-voice gain (the engine's fixed gain only); the loudness is the RMS of the active 10 ms frames
(above -45 dBFS), as in the engines' loudness test. Packs differ by 12 dB this way (Nova -27,
Sara -15), so without a correction switching voices changes the volume.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.utils.loudness import active_rms_db
from tests.utils.sentences import SENTENCES

from intone.engines import voice_packs
from intone.engines.base import EngineRequest, VoiceRealization
from intone.engines.kokoro import KokoroEngine
from intone.speech.synthesizer import text_units

MANIFEST = Path(__file__).resolve().parent.parent / "src/intone/engines/data/kokoro-voices.json"


def measure(engine: KokoroEngine, info: voice_packs.PackInfo) -> tuple[float, float]:
    language = info.language if info.language in KokoroEngine.languages else "en"
    locale = info.locale if language == info.language else None
    audio = []
    for text in SENTENCES[language][:3]:
        units = text_units(text, language, locale)
        voice = VoiceRealization(packs=((info.name, 1.0),))
        request = EngineRequest(text=text, language=language, voice=voice, units=units)
        audio.append(engine.synthesize(request).audio)
    whole = np.concatenate(audio)
    return active_rms_db(whole, engine.sample_rate), float(np.abs(whole).max())


def main() -> None:
    with tempfile.TemporaryDirectory() as data:
        engine = KokoroEngine(Path(data), voice_packs.VoicePacks(voice_packs.default_dir()), threads=2)
        manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
        for name, info in voice_packs.manifest().packs.items():
            loudness, peak = measure(engine, info)
            manifest["packs"][name].update(loudness_db=round(loudness, 2), peak=round(peak, 3))
            print(f"{name:<14} {loudness:6.1f} dB, peak {peak:.2f}", flush=True)
    MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

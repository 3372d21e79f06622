"""The `intone` command: say, voices, models."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import BinaryIO

from intone.audio.encoders import WAV_HEADER_SIZE, StreamEncoder, wav_header
from intone.audio.formats import (
    ALL_FORMATS,
    DEFAULT_FORMAT,
    InvalidOutputFormat,
    OutputFormat,
    parse_output_format,
)
from intone.config import Settings
from intone.engines.registry import EngineSet
from intone.speech import languages
from intone.speech.alignment import Alignment
from intone.speech.errors import SpeechError
from intone.speech.models import MODELS, spoken_languages
from intone.speech.synthesizer import Plan, SpeechRequest, Synthesizer
from intone.speech.voices import VOICES

_EXTENSION_FORMATS = {
    ".wav": "wav_44100",
    ".mp3": DEFAULT_FORMAT,
    ".ogg": "opus_48000_64",
    ".opus": "opus_48000_64",
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except (SpeechError, InvalidOutputFormat) as error:
        print(f"intone: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="intone", description="Self-hosted speech with the ElevenLabs API.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    say = commands.add_parser("say", help="speak text into an audio file")
    say.add_argument("text", help="the text to speak ('-' reads standard input)")
    say.add_argument("-o", "--output", required=True, help="audio file to write ('-' for standard output)")
    say.add_argument("--voice", default="Rachel", help="voice id or name (see `intone voices`)")
    say.add_argument("--model", default=None, help="model id (default eleven_multilingual_v2)")
    say.add_argument("--language", default=None, help="ISO 639-1 language code (default en)")
    say.add_argument("--format", default=None, help=f"output format, one of: {', '.join(ALL_FORMATS)}")
    say.add_argument("--speed", type=float, default=1.0, help="0.7 to 1.2")
    say.add_argument("--stability", type=float, default=0.5, help="0 to 1")
    say.add_argument("--seed", type=int, default=None, help="same seed, same settings: identical audio")
    say.add_argument("--normalization", choices=("auto", "on", "off"), default="auto")
    say.add_argument("--timings", default=None, help="write the alignment JSON to this file")
    say.set_defaults(run=_say)

    voices = commands.add_parser("voices", help="list the voices")
    voices.set_defaults(run=_voices)
    models = commands.add_parser("models", help="list the models and the languages they speak")
    models.set_defaults(run=_models)
    return parser


def _say(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.text == "-" else args.text
    fmt = _output_format(args.format, args.output)
    settings = Settings()
    synthesizer = Synthesizer(_engines(settings.data_dir, settings.engine_threads))
    request = SpeechRequest(
        text=text,
        voice_id=args.voice,
        model_id=args.model,
        language=args.language,
        speed=args.speed,
        stability=args.stability,
        seed=args.seed,
        normalization=args.normalization,
    )
    plan = synthesizer.plan(request)
    if args.output == "-":
        original, normalized = _write_stream(synthesizer, plan, fmt, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        with open(args.output, "wb") as out:
            original, normalized = _write_stream(synthesizer, plan, fmt, out)
            if fmt.codec == "wav":
                # The stream header had unknown sizes; a file can carry the exact ones.
                size = out.tell() - WAV_HEADER_SIZE
                out.seek(0)
                out.write(wav_header(fmt.sample_rate, size))
    if args.timings:
        Path(args.timings).write_text(json.dumps(_timings_json(original, normalized), ensure_ascii=False))
    return 0


@cache
def _engines(data_dir: Path, threads: int) -> EngineSet:
    # One set per process: engines load once even when main() runs several times (as in tests).
    return EngineSet(data_dir, threads)


def _output_format(name: str | None, output: str) -> OutputFormat:
    if name is None:
        name = _EXTENSION_FORMATS.get(Path(output).suffix.lower(), DEFAULT_FORMAT)
    return parse_output_format(name)


def _write_stream(
    synthesizer: Synthesizer, plan: Plan, fmt: OutputFormat, out: BinaryIO
) -> tuple[Alignment, Alignment]:
    original, normalized = Alignment.empty(), Alignment.empty()
    encoder: StreamEncoder | None = None
    for chunk in synthesizer.stream(plan):
        encoder = encoder or StreamEncoder(fmt, chunk.sample_rate)
        out.write(encoder.write(chunk.audio))
        original = original.joined(chunk.alignment)
        normalized = normalized.joined(chunk.normalized_alignment)
    if encoder is not None:
        out.write(encoder.finish())
    return original, normalized


def _timings_json(original: Alignment, normalized: Alignment) -> dict[str, object]:
    def shape(alignment: Alignment) -> dict[str, object]:
        return {
            "characters": list(alignment.characters),
            "character_start_times_seconds": [round(t, 3) for t in alignment.starts],
            "character_end_times_seconds": [round(t, 3) for t in alignment.ends],
        }

    return {"alignment": shape(original), "normalized_alignment": shape(normalized)}


def _voices(_: argparse.Namespace) -> int:
    for voice in VOICES:
        labels = ", ".join(f"{k}={v}" for k, v in voice.labels.items())
        print(f"{voice.voice_id}  {voice.name:<10} {labels}")
    return 0


def _models(_: argparse.Namespace) -> int:
    for model in MODELS.values():
        if not model.can_do_text_to_speech:
            continue
        langs = spoken_languages(model, EngineSet.languages())
        print(f"{model.model_id:<24} engines={'/'.join(model.engines)} limit={model.character_limit}")
        print(f"{'':<24} languages: {', '.join(f'{languages.name(code)} ({code})' for code in langs)}")
    return 0

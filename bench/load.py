"""Many real-time listeners at once: does each one's audio keep ahead of its playback?

Run from the repo root: .venv/bin/python bench/load.py   (prints tables and updates docs/benchmarks.md)
Smoke test: .venv/bin/python bench/load.py --quick        (one size per scenario, short texts, no doc update)

Starts one `intone serve` (default settings; `--server-env NAME=VALUE` to change them, or `--url` and
`--api-key` for a server already running) and talks to it only through the HTTP and WebSocket API, so it
measures whatever the server is today. Every listener POSTs `/v1/text-to-speech/{voice_id}/stream` with
`output_format=pcm_24000`: 16-bit mono at 24 kHz, so every 48,000 bytes are exactly one second of audio
whatever the engine's own rate, and plays the audio back in its head:

- playback starts with the first audio byte;
- a stall is the client running out of audio before the response has ended: it lasts from the moment
  playback would pass the last byte received until more audio arrives;
- throughput is the audio all listeners received while every one of them was still streaming (from
  the last request sent to the first response ended), per wall second: N listeners need N to play in
  real time.

Scenarios: `quality` (eleven_multilingual_v2, Kokoro, George) and `fast` (eleven_flash_v2_5, Piper,
Brian) at several N; `overtake`: a short request every few seconds while M long Kokoro streams keep
the server busy, beside the same short request on the idle server; `locust` (with `--locust`):
ElevenLabs' own locust script (bench/locustfile.py) headless against the stream-input WebSocket.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # so `tests.api.server` imports when run as a script

import httpx  # noqa: E402
from tests.api.server import Server, serving  # noqa: E402

from intone.speech.voices import catalog  # noqa: E402
from report import write_section  # noqa: E402

QUALITY_MODEL = "eleven_multilingual_v2"  # Kokoro
FAST_MODEL = "eleven_flash_v2_5"  # Piper for Brian
GEORGE = "JBFqnCBsd6RMkjVDRZzb"
BRIAN = "nPczCjzI2devNBz1zQrb"
FORMAT = "pcm_24000"
BYTES_PER_SECOND = 2 * 24_000  # 16-bit samples, one channel
STALL_LIMIT = 0.3  # seconds: a gap a listener notices as the voice breaking off
LOCUST = Path(sys.executable).parent / "locust"

# Harvard sentences: about 24 s of speech, long enough that a listener's buffer is tested many times over.
LONG_TEXT = (
    "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. "
    "It's easy to tell the depth of a well. These days a chicken leg is a rare dish. "
    "Rice is often served in round bowls. The juice of lemons makes fine punch. "
    "The box was thrown beside the parked truck. The hogs were fed chopped corn and garbage."
)
QUICK_TEXT = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background."
SHORT_TEXT = "Hi there."

# Queued requests may wait the server's queue timeout (30 s by default) before their first byte.
TIMEOUT = httpx.Timeout(10.0, read=180.0)


@dataclass(frozen=True)
class Target:
    url: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"xi-api-key": self.api_key}


@dataclass
class Listen:
    """One listener's request: when it was sent, each body chunk's arrival, and how it ended."""

    sent: float
    arrivals: list[tuple[float, int]] = field(default_factory=list)  # (perf_counter, bytes)
    ended: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.arrivals)

    @property
    def first_byte(self) -> float:
        return self.arrivals[0][0] - self.sent

    @property
    def audio_seconds(self) -> float:
        return sum(size for _, size in self.arrivals) / BYTES_PER_SECOND

    def stalls(self) -> list[float]:
        """Each stall's length: playback runs out at `runs_out` and resumes when the next chunk lands."""
        stalls: list[float] = []
        runs_out = self.arrivals[0][0]
        for arrived, size in self.arrivals:
            if arrived > runs_out:
                stalls.append(arrived - runs_out)
                runs_out = arrived
            runs_out += size / BYTES_PER_SECOND
        return stalls


@dataclass(frozen=True)
class Job:
    voice: str
    model: str
    text: str

    def body(self) -> dict[str, str]:
        return {"text": self.text, "model_id": self.model, "language_code": "en"}


def _error(response: httpx.Response) -> str:
    # ElevenLabs' error body: {"detail": {"status": "system_busy", "message": ...}}
    try:
        detail = response.json()["detail"]
        reason = detail["status"] if isinstance(detail, dict) else str(detail)
    except (ValueError, KeyError, TypeError):
        reason = response.text[:80]
    return f"{response.status_code} {reason}"


async def listen(client: httpx.AsyncClient, job: Job) -> Listen:
    result = Listen(sent=time.perf_counter())
    url = f"/v1/text-to-speech/{job.voice}/stream"
    try:
        async with client.stream("POST", url, params={"output_format": FORMAT}, json=job.body()) as response:
            if response.status_code != 200:
                await response.aread()
                result.error = _error(response)
            else:
                async for data in response.aiter_raw():
                    if data:
                        result.arrivals.append((time.perf_counter(), len(data)))
    except httpx.HTTPError as error:
        result.error = f"{type(error).__name__} {error}".strip()
    result.ended = time.perf_counter()
    return result


def _client(target: Target, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=target.url, headers=target.headers, timeout=TIMEOUT, limits=limits)


async def crowd(target: Target, job: Job, n: int) -> list[Listen]:
    async with _client(target, n) as client:
        return list(await asyncio.gather(*(listen(client, job) for _ in range(n))))


async def warm_up(target: Target, jobs: Sequence[Job]) -> None:
    """One short request per voice and model, so no measured request pays for a first use."""
    async with _client(target, 1) as client:
        for job in jobs:
            done = await listen(client, Job(job.voice, job.model, SHORT_TEXT))
            if not done.ok:
                raise RuntimeError(f"warm-up {job.model} {job.voice}: {done.error or 'no audio'}")


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest rank: with few samples p95 is the worst one, not an interpolation past it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def throughput(listens: Sequence[Listen]) -> float | None:
    """Audio seconds received per wall second while every listener was still streaming."""
    start, end = max(one.sent for one in listens), min(one.ended for one in listens)
    if end <= start:
        return None
    delivered = sum(size for one in listens for at, size in one.arrivals if start <= at <= end)
    return delivered / BYTES_PER_SECOND / (end - start)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def errors_cell(listens: Sequence[Listen]) -> str:
    errors = [one.error or "no audio" for one in listens if not one.ok]
    if not errors:
        return "0"
    kinds = sorted(set(errors))
    return f"{len(errors)} ({', '.join(f'{errors.count(kind)}× {kind}' for kind in kinds)})"


LISTENER_HEADER = (
    "| model | N | errors | first byte p50 ms | first byte p95 ms | worst stall s | clients stalled "
    f"> {STALL_LIMIT} s | total stall p50 s | audio s per client | wall s max | throughput audio s/s "
    "| × real time per client |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def listener_row(model: str, listens: Sequence[Listen]) -> str:
    ok = [one for one in listens if one.ok]
    if not ok:
        return f"| {model} | {len(listens)} | {errors_cell(listens)} | – | – | – | – | – | – | – | – | – |"
    firsts = [one.first_byte for one in ok]
    stalls = [one.stalls() for one in ok]
    worst = max((max(each, default=0.0) for each in stalls), default=0.0)
    stalled = sum(1 for each in stalls if max(each, default=0.0) > STALL_LIMIT)
    rate = throughput(ok)
    rate_cells = "– | –" if rate is None else f"{rate:.2f} | {rate / len(ok):.2f}"
    return (
        f"| {model} | {len(listens)} | {errors_cell(listens)} | {_ms(statistics.median(firsts))} | "
        f"{_ms(percentile(firsts, 0.95))} | {worst:.2f} | {stalled} | "
        f"{statistics.median(sum(each) for each in stalls):.2f} | "
        f"{statistics.median(one.audio_seconds for one in ok):.1f} | "
        f"{max(one.ended - one.sent for one in ok):.1f} | {rate_cells} |"
    )


def listeners(target: Target, job: Job, sizes: Sequence[int]) -> list[str]:
    rows = []
    for n in sizes:
        rows.append(listener_row(job.model, asyncio.run(crowd(target, job, n))))
        print(rows[-1], flush=True)
    return rows


def short_row(label: str, listens: Sequence[Listen]) -> str:
    firsts = [one.first_byte for one in listens if one.ok]
    if not firsts:
        return f"| {label} | {len(listens)} | {errors_cell(listens)} | – | – |"
    return (
        f"| {label} | {len(listens)} | {errors_cell(listens)} | {_ms(statistics.median(firsts))} | "
        f"{_ms(percentile(firsts, 0.95))} |"
    )


async def overtake(
    target: Target, long: Job, short: Job, m: int, interval: float, idle_rounds: int
) -> tuple[list[Listen], list[Listen], list[Listen]]:
    """Short requests on the idle server, then every `interval` s while M long streams all run."""
    async with _client(target, m + 64) as client:
        idle = [await listen(client, short) for _ in range(idle_rounds)]
        longs = [asyncio.create_task(listen(client, long)) for _ in range(m)]
        # Probe only while every long stream is still going: once one ends the server is less busy.
        shorts: list[asyncio.Task[Listen]] = []
        await asyncio.wait(longs, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
        while not any(task.done() for task in longs):
            shorts.append(asyncio.create_task(listen(client, short)))
            await asyncio.wait(longs, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
        return idle, list(await asyncio.gather(*longs)), list(await asyncio.gather(*shorts))


def locust_run(target: Target, voice: str, users: int, seconds: int, work: Path) -> list[str]:
    """ElevenLabs' script, headless, as tests/api/test_locust.py runs it; returns the table's row."""
    if not LOCUST.exists():
        raise RuntimeError("locust is not installed (pip install -e '.[test]')")
    env = {**os.environ, "ELEVENLABS_API_KEY": target.api_key, "ELEVENLABS_VOICE_ID": voice}
    env.pop("ELEVENLABS_MODEL_ID", None)  # the script's own URL: the server's default model speaks
    stop_grace = 30  # lets requests in flight at the time limit finish instead of counting as failures
    subprocess.run(
        [
            str(LOCUST),
            "-f",
            str(ROOT / "bench" / "locustfile.py"),
            "--headless",
            *("-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--stop-timeout", f"{stop_grace}s"),
            *("--host", target.url.replace("http", "ws", 1)),
            "--only-summary",
            *("--csv", str(work / "run")),
        ],
        cwd=work,
        env=env,
        capture_output=True,
        timeout=seconds + stop_grace + 120,
        check=False,  # locust exits 1 when any request failed; the failures are what we report
    )
    with open(work / "run_stats.csv", newline="") as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    with open(work / "run_failures.csv", newline="") as failures:
        kinds = [f"{row['Occurrences']}× {row['Name']}: {row['Error']}" for row in csv.DictReader(failures)]
    total = rows["Aggregated"]
    success = rows.get("TTS Stream Success (First Byte)")
    first = "– | –" if success is None else f"{success['50%']} | {success['95%']}"
    return [
        f"| {users} | {seconds} | {total['Request Count']} | {total['Failure Count']} | {first} | "
        f"{'; '.join(kinds) or '–'} |"
    ]


def stamp(command: str) -> str:
    return f"`{command}`, {datetime.date.today()}, {os.cpu_count()} cores."


def intro_section() -> str:
    return "\n".join(
        [
            "## Load: real-time listeners",
            "",
            "`bench/load.py` starts one `intone serve` with default settings and runs N clients at",
            "once, each streaming `POST /v1/text-to-speech/{voice_id}/stream?output_format=pcm_24000`",
            "(16-bit mono, so 48,000 bytes are one second of audio) and playing it back in its head.",
            "Playback starts with the first audio byte. A **stall** is the client running out of audio",
            "before the response has ended; it lasts from the moment playback passes the last byte",
            "received until the next bytes arrive. Per run: first byte p50/p95 over the clients, the",
            f"worst single stall, how many clients had a stall over {STALL_LIMIT} s, the median of each",
            "client's total stall time. **Throughput** is the audio all clients received between the last",
            "request sent and the first response ended (the time every client was streaming), per wall",
            "second; N clients need N to play in real time, so × real time per client under 1 means",
            "listeners must stall. Errors (such as the server's 429 after its queue timeout) are left out",
            "of the other columns. The clients run in one Python process on the same machine, so their",
            "own scheduling delays count in what they measure.",
        ]
    )


def listener_section(title: str, command: str, detail: str, rows: Sequence[str]) -> str:
    return "\n".join(["### " + title, "", stamp(command), "", detail, "", LISTENER_HEADER, *rows])


def overtake_section(command: str, m: int, interval: float, rows: Sequence[str], long_row: str) -> str:
    return "\n".join(
        [
            "### Short overtakes long",
            "",
            stamp(command),
            "",
            f'`"{SHORT_TEXT}"` ({QUALITY_MODEL}, George) streamed alone on the idle server one after the',
            f"other, then sent every {interval:g} s (without waiting for the previous one) while {m} long",
            f"{QUALITY_MODEL} streams run; shorts are sent only while all {m} are still streaming.",
            "First byte: from sending the request to its first audio byte.",
            "",
            "| short request | requests | errors | first byte p50 ms | first byte p95 ms |",
            "|---|---|---|---|---|",
            *rows,
            "",
            "The long streams meanwhile:",
            "",
            LISTENER_HEADER,
            long_row,
        ]
    )


def locust_section(command: str, voice: str, rows: Sequence[str]) -> str:
    return "\n".join(
        [
            "### ElevenLabs' locust script",
            "",
            stamp(command),
            "",
            f"`bench/locustfile.py` headless (`-u users -r users`), voice {voice}, the script's own URL",
            "(so the server's default model), mp3_22050_32, one socket per user every 20 s, a 10 s limit",
            "per message. First byte: the script's `TTS Stream Success (First Byte)` percentiles (successes",
            "only; locust rounds them to two significant digits). Requests still running at the time limit",
            "may finish.",
            "",
            "| users | seconds | requests (with failures) | failures | first byte p50 ms | first byte p95 ms "
            "| failures by kind |",
            "|---|---|---|---|---|---|---|",
            *rows,
        ]
    )


@contextmanager
def target_server(args: argparse.Namespace) -> Iterator[Target]:
    if args.url:
        yield Target(args.url.rstrip("/"), args.api_key or os.environ.get("ELEVENLABS_API_KEY", ""))
        return
    env = {name: value for name, _, value in (pair.partition("=") for pair in args.server_env)}
    with tempfile.TemporaryDirectory() as data:
        # Voices are calibrated ahead, as `intone voices calibrate` documents: otherwise the server
        # calibrates them (and its default voice) in the background while the first scenario runs, and
        # decodes them whole until then.
        voices = [args.voice_id, args.fast_voice_id, catalog().default_voice_id]
        calibrate = [str(Path(sys.executable).parent / "intone"), "voices", "calibrate", *voices]
        subprocess.run(calibrate, env={**os.environ, **env, "INTONE_DATA_DIR": data}, check=True)
        with serving(Path(data), env=env) as server:
            wait_for_speeds(server)
            yield Target(server.url, server.api_key)


def wait_for_speeds(server: Server) -> None:
    """Waits for the background runs that measure the engines' speed after start-up (two per engine):
    the scenarios measure a running server, not its first seconds, when one worker is still busy."""
    deadline = time.monotonic() + 120
    while server.log_text().count("s of engine time per second of audio") < 4:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not measure its engines' speed within 120 s")
        time.sleep(0.2)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=("quality", "fast", "overtake", "locust"),
        default=["quality", "fast", "overtake"],
    )
    parser.add_argument("--locust", action="store_true", help="also run ElevenLabs' locust script")
    parser.add_argument("--quick", action="store_true", help="one size per scenario, short texts (~1-2 min)")
    parser.add_argument("--quality-n", type=int, nargs="+", help="listener counts (default 2 4 6 8 10)")
    parser.add_argument("--fast-n", type=int, nargs="+", help="listener counts (default 4 8 16)")
    parser.add_argument("--long-streams", type=int, help="M long streams in overtake (default 6)")
    parser.add_argument("--short-every", type=float, default=2.0, help="seconds between short requests")
    parser.add_argument("--idle-rounds", type=int, help="short requests on the idle server (default 5)")
    parser.add_argument("--voice-id", default=GEORGE, help="the quality (Kokoro) voice")
    parser.add_argument("--fast-voice-id", default=BRIAN, help="the fast-model voice (Brian: Piper)")
    parser.add_argument("--locust-users", type=int, default=8)
    parser.add_argument("--locust-seconds", type=int, help="default 60 (20 with --quick)")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--url", help="a running server instead of starting one (http://host:port)")
    parser.add_argument("--api-key", help="its key (default: $ELEVENLABS_API_KEY)")
    parser.add_argument(
        "--write",
        action=argparse.BooleanOptionalAction,
        help="update docs/benchmarks.md (default: yes, but not with --quick)",
    )
    args = parser.parse_args(argv)
    if args.locust and "locust" not in args.scenarios:
        args.scenarios.append("locust")
    quick = args.quick
    args.quality_n = args.quality_n or ([2] if quick else [2, 4, 6, 8, 10])
    args.fast_n = args.fast_n or ([4] if quick else [4, 8, 16])
    args.long_streams = args.long_streams or (2 if quick else 6)
    args.locust_seconds = args.locust_seconds or (20 if quick else 60)
    args.idle_rounds = args.idle_rounds or (2 if quick else 5)
    args.text = QUICK_TEXT if quick else LONG_TEXT
    args.write = not quick if args.write is None else args.write
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    command = " ".join(["python bench/load.py", *(argv if argv is not None else sys.argv[1:])])
    quality = Job(args.voice_id, QUALITY_MODEL, args.text)
    fast = Job(args.fast_voice_id, FAST_MODEL, args.text)
    sections: list[tuple[str, str]] = [("load", intro_section())]
    with target_server(args) as target:
        asyncio.run(warm_up(target, [quality, fast]))
        if "quality" in args.scenarios:
            print(f"quality: {QUALITY_MODEL} ({args.voice_id}), N = {args.quality_n}", flush=True)
            rows = listeners(target, quality, args.quality_n)
            detail = f"{QUALITY_MODEL} (Kokoro), voice {args.voice_id}, {len(args.text)} characters of text."
            sections.append(("load-quality", listener_section("Quality model", command, detail, rows)))
        if "fast" in args.scenarios:
            print(f"fast: {FAST_MODEL} ({args.fast_voice_id}), N = {args.fast_n}", flush=True)
            rows = listeners(target, fast, args.fast_n)
            detail = f"{FAST_MODEL} (Piper), voice {args.fast_voice_id}, {len(args.text)} characters of text."
            sections.append(("load-fast", listener_section("Fast model", command, detail, rows)))
        if "overtake" in args.scenarios:
            m = args.long_streams
            print(f"overtake: '{SHORT_TEXT}' beside {m} long streams", flush=True)
            short = Job(args.voice_id, QUALITY_MODEL, SHORT_TEXT)
            idle, longs, shorts = asyncio.run(
                overtake(target, quality, short, m, args.short_every, args.idle_rounds)
            )
            rows = [short_row("on the idle server", idle), short_row(f"beside {m} long streams", shorts)]
            long_row = listener_row(QUALITY_MODEL, longs)
            print("\n".join([*rows, long_row]), flush=True)
            sections.append(("load-overtake", overtake_section(command, m, args.short_every, rows, long_row)))
        if "locust" in args.scenarios:
            print(f"locust: {args.locust_users} users for {args.locust_seconds} s", flush=True)
            with tempfile.TemporaryDirectory() as work:
                rows = locust_run(target, args.voice_id, args.locust_users, args.locust_seconds, Path(work))
            print("\n".join(rows), flush=True)
            sections.append(("load-locust", locust_section(command, args.voice_id, rows)))
    print()
    for key, section in sections:
        print(section + "\n")
        if args.write:
            write_section(key, section)


if __name__ == "__main__":
    main()

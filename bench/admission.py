"""Queueing delay against load, for two priorities sharing one saturated server.

Run from the repo root: .venv/bin/python bench/admission.py   (prints a table and updates docs/benchmarks.md)

One `intone serve` that runs at most two syntheses at once. Two keys with limits far above the load,
so only the server's own priority queue decides: a `pro` key (priority 5) and an `enterprise` key
(priority 6). At each load level half the clients use each key and send short flash requests back to
back for a while. The queueing delay is the server's own measure, from the `Server-Timing: queue`
header: the time between a request arriving and it getting its place.
"""

from __future__ import annotations

import datetime
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # so `tests.api.server` imports when run as a script

import httpx  # noqa: E402
from tests.api.server import create_key, serving  # noqa: E402

from report import write_section  # noqa: E402

VOICE = "JBFqnCBsd6RMkjVDRZzb"
TEXT = "The quick brown fox jumps over the lazy dog."
CAPACITY = 2
LOADS = (1, 2, 4, 8, 16)  # clients in all, split evenly between the two keys (one client: pro only)
SECONDS = 10.0
TIERS = ("pro", "enterprise")


def queue_ms(response: httpx.Response) -> float:
    timing = response.headers["server-timing"]  # "queue;dur=12.3"
    return float(timing.split("dur=")[1])


def client_loop(url: str, key: str, until: float, waits: list[float], totals: list[float]) -> None:
    with httpx.Client(base_url=url, headers={"xi-api-key": key}, timeout=120) as client:
        while time.monotonic() < until:
            started = time.monotonic()
            response = client.post(
                f"/v1/text-to-speech/{VOICE}",
                params={"output_format": "pcm_16000"},
                json={"text": TEXT, "model_id": "eleven_flash_v2"},
            )
            response.raise_for_status()
            totals.append((time.monotonic() - started) * 1000)
            waits.append(queue_ms(response))


def run_load(url: str, keys: dict[str, str], clients: int) -> dict[str, tuple[list[float], list[float]]]:
    results: dict[str, tuple[list[float], list[float]]] = {tier: ([], []) for tier in TIERS}
    until = time.monotonic() + SECONDS
    threads = []
    for n in range(clients):
        tier = TIERS[n % 2]
        waits, totals = results[tier]
        thread = threading.Thread(target=client_loop, args=(url, keys[tier], until, waits, totals))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return results


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def cells(waits: list[float], totals: list[float]) -> str:
    if not waits:
        return "– | – | – | –"
    return (
        f"{len(waits)} | {statistics.median(waits):.0f} | {percentile(waits, 0.95):.0f} | "
        f"{statistics.median(totals):.0f}"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as data:
        env = {"INTONE_MAX_CONCURRENT_REQUESTS": str(CAPACITY), "INTONE_QUEUE_TIMEOUT": "120"}
        with serving(Path(data), env=env) as server:
            key_env = {**os.environ, "INTONE_DATA_DIR": data}
            keys = {tier: create_key(key_env, tier, tier=tier) for tier in TIERS}
            run_load(server.url, keys, 2)  # warm-up
            rows = []
            for clients in LOADS:
                results = run_load(server.url, keys, clients)
                rows.append(f"| {clients} | {cells(*results['pro'])} | {cells(*results['enterprise'])} |")
                print(rows[-1], flush=True)
    table = "\n".join(
        [
            "## Queueing under load, by priority",
            "",
            f"`python bench/admission.py`, {datetime.date.today()}, {os.cpu_count()} cores.",
            "",
            f"One server running at most {CAPACITY} syntheses at once (`INTONE_MAX_CONCURRENT_REQUESTS`);",
            f"clients send `{TEXT}` (eleven_flash_v2, pcm_16000) back to back for {SECONDS:.0f} s per load",
            "level, half with a `pro` key (priority 5), half with an `enterprise` key (priority 6). Queue",
            "times are the server's `Server-Timing: queue` values; total is the client's whole request.",
            "",
            "| clients | pro requests | pro queue median ms | pro queue p95 ms | pro total median ms "
            "| enterprise requests | enterprise queue median ms | enterprise queue p95 ms "
            "| enterprise total median ms |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Priority is strict: while the server is over capacity, the lower priority waits for every",
            "request of the higher one, so under sustained overload it is served only as the load ebbs.",
        ]
    )
    print(table)
    write_section("admission", table)


if __name__ == "__main__":
    main()

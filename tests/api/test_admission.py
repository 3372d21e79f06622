"""Concurrency limits per key and tier, the server's own limit, and the priority queue, against a real
server that runs at most three syntheses at once and lets two requests wait per queue."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.api.holds import BRIAN, FLASH, MULTILINGUAL, SENTENCE, holding, say
from tests.api.server import Server, create_key, serving
from tests.shared_services import postgres_database, redis_url

pytestmark = pytest.mark.slow

CAPACITY = 3
QUEUED = 2


@pytest.fixture(scope="module", params=["embedded", "shared"])
def server(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Server]:
    """Alone (limits in the process), then as a replica (per-key limits and queues in Redis)."""
    data = tmp_path_factory.mktemp(f"intone-admission-{request.param}")
    env = {
        "INTONE_MAX_CONCURRENT_REQUESTS": str(CAPACITY),
        # Requests also weigh their engine's measured speed; on a slow or busy machine three Kokoro holds
        # would outweigh the default load limit and the third would queue. The count is what is tested.
        "INTONE_LOAD_LIMIT": "4",
        "INTONE_MAX_QUEUED_REQUESTS": str(QUEUED),
        "INTONE_QUEUE_TIMEOUT": "180",  # the tests fill queues; none should run out of time
    }
    with contextlib.ExitStack() as stack:
        if request.param == "shared":
            database = stack.enter_context(postgres_database())
            env |= {"INTONE_DATABASE_URL": database, "INTONE_REDIS_URL": redis_url()}
        yield stack.enter_context(serving(data, env=env))


def _key(server: Server, name: str, tier: str) -> str:
    return create_key(server.env, name, tier=tier)


def _in_background(target, *args) -> tuple[threading.Thread, list]:
    results: list = []
    thread = threading.Thread(target=lambda: results.append(target(*args)))
    thread.start()
    return thread, results


def test_a_key_over_its_tier_limit_queues_then_gets_429_when_its_queue_is_full(server):
    key = _key(server, "free", "free")  # two multilingual requests at once, four flash
    with holding(server, key, [4, 4]) as held:
        waiting = [_in_background(say, server, key, MULTILINGUAL) for _ in range(QUEUED)]
        time.sleep(0.5)
        refused = say(server, key, MULTILINGUAL)
        assert refused.status_code == 429
        assert refused.json()["detail"]["status"] == "too_many_concurrent_requests"
        assert int(refused.headers["retry-after"]) >= 1
        flash = say(server, key)  # the flash group has limits of its own
        assert flash.status_code == 200
        assert (
            flash.headers["current-concurrent-requests"],
            flash.headers["maximum-concurrent-requests"],
        ) == (
            "1",
            "4",
        )
    assert sorted(r.headers["current-concurrent-requests"] for r in held) == ["1", "2"]
    assert {r.headers["maximum-concurrent-requests"] for r in held} == {"2"}
    for thread, results in waiting:
        thread.join(120)
        assert results[0].status_code == 200  # waited its turn instead of failing
        assert float(results[0].headers["server-timing"].split("dur=")[1]) > 500
    # The refused request's credits came back: the key paid for exactly what it got.
    served = [*held, flash, *(results[0] for _, results in waiting)]
    assert _credits_used(server, key) == sum(int(r.headers["character-cost"]) for r in served)


def _credits_used(server: Server, key: str) -> int:
    response = httpx.get(f"{server.url}/v1/user/subscription", headers={"xi-api-key": key})
    return response.json()["character_count"]


def test_a_saturated_server_answers_system_busy(server):
    with holding(server, _key(server, "hog", "enterprise"), [2] * CAPACITY):
        bystander = _key(server, "bystander", "enterprise")
        waiting = [_in_background(say, server, bystander) for _ in range(QUEUED)]
        time.sleep(1.5)  # both in the queue, even on a loaded machine
        refused = say(server, bystander)
        assert refused.status_code == 429
        assert refused.json()["detail"]["status"] == "system_busy"
        assert int(refused.headers["retry-after"]) >= 1
    for thread, results in waiting:
        thread.join(120)
        assert results[0].status_code == 200


def test_waiting_requests_go_by_priority_then_arrival(server):
    low, high = _key(server, "low", "free"), _key(server, "high", "enterprise")  # priorities 3 and 6
    holder = _key(server, "holder", "enterprise")
    admitted: dict[str, float] = {}

    def request(name: str, key: str) -> None:
        sent = time.monotonic()
        # Seconds of Piper audio: the low one, let in when the high one ends, is still running when the
        # test looks, and neither slows the other's Kokoro as the holders run beside it.
        response = say(server, key, FLASH, SENTENCE)
        assert response.status_code == 200, response.text
        admitted[name] = sent + float(response.headers["server-timing"].split("dur=")[1]) / 1000

    with _streaming(server, holder, CAPACITY) as hang_up:
        time.sleep(1.5)  # every place taken
        waiting = {}
        for name, key in (("low", low), ("high", high)):
            waiting[name] = threading.Thread(target=request, args=(name, key))
            waiting[name].start()
            time.sleep(0.3)  # arrival order
        hang_up[0].set()  # one place comes free: the later but higher-priority request takes it
        waiting["high"].join(120)
        assert "high" in admitted and "low" not in admitted  # the lower one is still waiting
    waiting["low"].join(120)  # the other holders hung up
    assert admitted["high"] < admitted["low"], admitted


@contextlib.contextmanager
def _streaming(server: Server, key: str, count: int) -> Iterator[list[threading.Event]]:
    """`count` long Piper streams, read as fast as they come, so each holds its place while it is
    synthesized (a stream whose client does not read gives its place back). Setting a stream's event
    hangs up on it, which frees its place; the rest hang up when the block ends."""
    hang_up = [threading.Event() for _ in range(count)]

    def listen(stop: threading.Event) -> None:
        with httpx.stream(
            "POST",
            f"{server.url}/v1/text-to-speech/{BRIAN}/stream",
            headers={"xi-api-key": key},
            params={"output_format": "pcm_16000"},
            json={"text": SENTENCE * 60, "model_id": FLASH},
            timeout=60,
        ) as response:
            for _ in response.iter_bytes():
                if stop.is_set():
                    return

    threads = [threading.Thread(target=listen, args=(stop,)) for stop in hang_up]
    for thread in threads:
        thread.start()
    try:
        yield hang_up
    finally:
        for stop, thread in zip(hang_up, threads, strict=True):
            stop.set()
            thread.join(60)


def test_a_client_gone_while_queued_leaves_the_queue_and_pays_nothing(server):
    hog, leaver, bystander = (_key(server, name, "enterprise") for name in ("hog2", "leaver", "bystander2"))
    with holding(server, hog, [2] * CAPACITY):
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                f"{server.url}/v1/text-to-speech/{BRIAN}",
                headers={"xi-api-key": leaver},
                params={"output_format": "pcm_16000"},
                json={"text": "Nobody waits for this.", "model_id": FLASH},
                timeout=httpx.Timeout(10, read=1),
            )
        # Its place in the server's queue came free: both of these fit in, the next one does not.
        waiting = [_in_background(say, server, bystander) for _ in range(QUEUED)]
        time.sleep(0.5)
        refused = say(server, bystander)
        assert refused.json()["detail"]["status"] == "system_busy"
    for thread, results in waiting:
        thread.join(120)
        assert results[0].status_code == 200
    assert _credits_used(server, leaver) == 0

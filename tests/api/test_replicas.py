"""Two server processes sharing PostgreSQL and Redis, as replicas behind a load balancer would: one
key's concurrency limit, its quota and its single-use tokens hold across both."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.api.holds import FLASH, MULTILINGUAL, SENTENCE, holding, say
from tests.api.server import Server, create_key, serving, start
from tests.api.ws import drain, run, send, ws_url
from tests.shared_services import postgres_database, redis_url

pytestmark = pytest.mark.slow

QUEUE_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def replicas(tmp_path_factory) -> Iterator[tuple[Server, Server, dict[str, str]]]:
    with postgres_database() as database:
        env = {
            "INTONE_DATABASE_URL": database,
            "INTONE_REDIS_URL": redis_url(),
            "INTONE_QUEUE_TIMEOUT": str(QUEUE_TIMEOUT),
            "INTONE_WARM_UP": "false",
        }
        first_dir, second_dir = tmp_path_factory.mktemp("replica-a"), tmp_path_factory.mktemp("replica-b")
        with serving(first_dir, env=env) as first, serving(second_dir, env=env) as second:
            yield first, second, {**os.environ, **env, "INTONE_DATA_DIR": str(first_dir)}


def test_a_keys_concurrency_limit_holds_across_replicas(replicas):
    first, second, env = replicas
    key = create_key(env, "shared-free", tier="free")  # two multilingual requests at once
    with holding(first, key, [4]) as on_first, holding(second, key, [4]) as on_second:
        for server in (first, second):
            refused = say(server, key, MULTILINGUAL)
            assert refused.status_code == 429, refused.text
            assert refused.json()["detail"]["status"] == "too_many_concurrent_requests"
    assert sorted(r.headers["current-concurrent-requests"] for r in on_first + on_second) == ["1", "2"]
    assert say(first, key, MULTILINGUAL).status_code == 200  # the places came back


def test_a_quota_holds_across_replicas_under_parallel_load(replicas):
    first, second, env = replicas
    key = create_key(env, "shared-quota", "--character-limit", "20", tier="enterprise")

    def attempt(n: int) -> int:
        return say((first, second)[n % 2], key).status_code  # "Hi." on flash costs 2 credits

    with ThreadPoolExecutor(30) as pool:
        statuses = list(pool.map(attempt, range(30)))
    # Some may also have waited too long for a place (429, refunded); none may overspend.
    assert set(statuses) <= {200, 401, 429} and 401 in statuses, statuses
    for server in (first, second):
        usage = httpx.get(f"{server.url}/v1/user/subscription", headers={"xi-api-key": key}).json()
        assert usage["character_limit"] == 20
        assert usage["character_count"] == 2 * statuses.count(200) <= 20, statuses


def test_a_single_use_token_made_on_one_replica_opens_a_socket_once_on_either(replicas):
    first, second, env = replicas
    key = create_key(env, "shared-token")
    token = httpx.post(f"{first.url}/v1/single-use-token/tts_websocket", headers={"xi-api-key": key}).json()[
        "token"
    ]

    async def speak(server: Server) -> int | None:
        url = ws_url(server.url, "stream-input", model_id=FLASH, single_use_token=token)
        async with connect(url, open_timeout=10, close_timeout=5) as ws:
            await send(ws, {"text": " "}, {"text": "Hi. "}, {"text": ""})
            await drain(ws)
            return ws.close_code

    assert run(speak(second)) == 1000
    assert run(speak(first)) == 1008


def test_a_replica_killed_mid_request_gives_the_keys_places_back(replicas, tmp_path_factory):
    first, _, env = replicas
    key = create_key(env, "outlived", tier="free")  # two multilingual requests at once
    shared = {name: value for name, value in first.env.items() if name != "INTONE_DATA_DIR"}
    doomed = start(tmp_path_factory.mktemp("replica-doomed"), env=shared)
    threads: list[threading.Thread] = []
    try:
        long_text = SENTENCE * 6
        threads += [
            threading.Thread(target=_quietly, args=(say, doomed, key, MULTILINGUAL, long_text))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while (refused := say(first, key, MULTILINGUAL)).status_code == 200:  # until both places are taken
            assert time.monotonic() < deadline, "the doomed replica never took the key's places"
        assert refused.json()["detail"]["status"] == "too_many_concurrent_requests"
        doomed.process.kill()  # SIGKILL: no chance to give anything back
        doomed.process.wait()
        killed = time.monotonic()
        while say(first, key, MULTILINGUAL).status_code != 200:
            assert time.monotonic() - killed < 30, "the killed replica's places never came back"
        assert time.monotonic() - killed < 15 + 2 * QUEUE_TIMEOUT + 5  # one lease, give or take a try
    finally:
        doomed.stop()
        for thread in threads:
            thread.join(30)


def _quietly(call, *args) -> None:
    """Runs a request whose server is about to die: its failure is the point, not an error."""
    with contextlib.suppress(httpx.HTTPError):
        call(*args)

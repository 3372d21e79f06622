"""The gate contract, for the gates in the process and the Redis ones that replicas share."""

from __future__ import annotations

import asyncio
import inspect
import secrets
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator

import pytest
import redis
import redis.asyncio

from intone.admission.gates import GateFull, Gates, GateTimeout, LocalGates
from intone.cluster.gates import RedisGates
from tests.shared_services import redis_url

Make = Callable[..., Gates]
Scenario = Callable[[Make], Awaitable[None]]

# A replica on its own: it takes the only place in gate "g", queues for another, and never lets go.
_REPLICA = """
import asyncio, sys, time
import redis.asyncio
from intone.cluster.gates import RedisGates

async def main():
    url, prefix, lease_ms = sys.argv[1], sys.argv[2], int(sys.argv[3])
    gates = RedisGates(redis.asyncio.Redis.from_url(url), 5, prefix, lease_ms=lease_ms)
    await gates.acquire("g", 1, 5, time.monotonic() + 60)
    await gates.acquire("g", 1, 5, time.monotonic() + 60)

asyncio.run(main())
"""


@pytest.fixture
def shared_redis() -> Iterator[tuple[str, str]]:
    """The test Redis's URL and a key prefix of this test's own, whose keys are deleted afterwards."""
    url, prefix = redis_url(), f"intone-test:{secrets.token_hex(6)}:"
    yield url, prefix
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(params=["local", "redis"])
def run(request: pytest.FixtureRequest) -> Callable[[Scenario], None]:
    """Runs a scenario, handing it a factory of gates; all gates from one factory share their counts."""
    if request.param == "local":

        def run_local(scenario: Scenario) -> None:
            gates = LocalGates(10)

            def make(max_waiting: int = 10) -> Gates:
                gates.max_waiting = max_waiting
                return gates

            asyncio.run(scenario(make))

        return run_local
    url, prefix = request.getfixturevalue("shared_redis")

    def run_redis(scenario: Scenario) -> None:
        asyncio.run(_with_redis_gates(url, prefix, scenario))

    return run_redis


async def _with_redis_gates(url: str, prefix: str, scenario: Scenario) -> None:
    made: list[tuple[RedisGates, redis.asyncio.Redis]] = []

    def make(max_waiting: int = 10, lease_ms: int = 15_000) -> Gates:
        client = redis.asyncio.Redis.from_url(url)
        made.append((RedisGates(client, max_waiting, prefix, lease_ms), client))
        return made[-1][0]

    try:
        await scenario(make)
    finally:
        for gates, client in made:
            await gates.close()
            await client.aclose()


async def _count(gates: Gates, what: str, name: str = "g") -> int:
    """`inside` or `waiting`: plain methods on LocalGates, coroutines on RedisGates."""
    result = getattr(gates, what)(name)
    return await result if inspect.isawaitable(result) else result


async def _eventually(gates: Gates, what: str, expected: int) -> None:
    stop = time.monotonic() + 10
    while (found := await _count(gates, what)) != expected:
        assert time.monotonic() < stop, f"{what} is {found}, not {expected}"
        await asyncio.sleep(0.01)


def _later(seconds: float = 30.0) -> float:
    return time.monotonic() + seconds


def test_admits_up_to_the_limit_then_queues(run):
    async def scenario(make: Make) -> None:
        gates = make()
        holds = [await gates.acquire("g", 3, 5, _later()) for _ in range(3)]
        assert [hold.current for hold in holds] == [1, 2, 3]
        waiter = asyncio.create_task(gates.acquire("g", 3, 5, _later()))
        await _eventually(gates, "waiting", 1)
        await asyncio.sleep(0.1)  # a few polls: still no place for it
        assert not waiter.done()
        assert await _count(gates, "inside") == 3
        await holds[1].release()
        assert (await asyncio.wait_for(waiter, 10)).current == 3
        assert (await _count(gates, "inside"), await _count(gates, "waiting")) == (3, 0)

    run(scenario)


def test_higher_priority_first_then_first_come_first_served(run):
    async def scenario(make: Make) -> None:
        gates = make()
        holder = await gates.acquire("g", 1, 5, _later())
        order: list[str] = []

        async def enter(name: str, priority: int) -> None:
            hold = await gates.acquire("g", 1, priority, _later())
            order.append(name)
            await hold.release()

        tasks = []
        for queued, (name, priority) in enumerate((("low-1", 3), ("mid", 5), ("low-2", 3), ("high", 6)), 1):
            tasks.append(asyncio.create_task(enter(name, priority)))
            await _eventually(gates, "waiting", queued)
        await holder.release()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        assert order == ["high", "mid", "low-1", "low-2"]

    run(scenario)


def test_a_full_queue_refuses_at_once(run):
    async def scenario(make: Make) -> None:
        gates = make(max_waiting=2)
        holder = await gates.acquire("g", 1, 5, _later())
        waiters = [asyncio.create_task(gates.acquire("g", 1, 5, _later())) for _ in range(2)]
        await _eventually(gates, "waiting", 2)
        with pytest.raises(GateFull):
            await asyncio.wait_for(gates.acquire("g", 1, 9, _later()), 10)
        assert await _count(gates, "waiting") == 2
        await holder.release()
        for admitted in asyncio.as_completed(waiters, timeout=10):  # they arrived together, in either order
            await (await admitted).release()

    run(scenario)


def test_a_deadline_ends_a_wait_and_the_late_waiter_leaves_the_queue(run):
    async def scenario(make: Make) -> None:
        gates = make(max_waiting=1)
        holder = await gates.acquire("g", 1, 5, _later())
        deadline = time.monotonic() + 0.3
        with pytest.raises(GateTimeout):
            await asyncio.wait_for(gates.acquire("g", 1, 5, deadline), 10)
        assert time.monotonic() >= deadline - 0.01
        assert await _count(gates, "waiting") == 0
        # Were the late waiter still queued, this one would be refused, or the place would go to it.
        queued = asyncio.create_task(gates.acquire("g", 1, 5, _later()))
        await _eventually(gates, "waiting", 1)
        await holder.release()
        assert (await asyncio.wait_for(queued, 10)).current == 1

    run(scenario)


def test_a_cancelled_waiter_leaves_the_queue(run):
    async def scenario(make: Make) -> None:
        gates = make(max_waiting=1)
        holder = await gates.acquire("g", 1, 5, _later())
        cancelled = asyncio.create_task(gates.acquire("g", 1, 9, _later()))
        await _eventually(gates, "waiting", 1)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert await _count(gates, "waiting") == 0
        later = asyncio.create_task(gates.acquire("g", 1, 1, _later()))
        await _eventually(gates, "waiting", 1)
        await holder.release()
        assert (await asyncio.wait_for(later, 10)).current == 1
        assert await _count(gates, "inside") == 1

    run(scenario)


def test_release_is_idempotent(run):
    async def scenario(make: Make) -> None:
        gates = make()
        first, _second = [await gates.acquire("g", 2, 5, _later()) for _ in range(2)]
        await first.release()
        await first.release()
        assert await _count(gates, "inside") == 1
        assert (await gates.acquire("g", 2, 5, _later())).current == 2
        with pytest.raises(GateTimeout):  # the second release freed no place
            await gates.acquire("g", 2, 5, time.monotonic() + 0.2)

    run(scenario)


def test_a_raised_limit_lets_waiters_in(run):
    async def scenario(make: Make) -> None:
        gates = make()
        await gates.acquire("g", 1, 5, _later())
        waiter = asyncio.create_task(gates.acquire("g", 1, 5, _later()))
        await _eventually(gates, "waiting", 1)
        raised = await asyncio.wait_for(gates.acquire("g", 3, 5, _later()), 10)  # the key moved up a tier
        admitted = await asyncio.wait_for(waiter, 10)
        assert sorted([raised.current, admitted.current]) == [2, 3]
        assert await _count(gates, "inside") == 3

    run(scenario)


def test_gates_are_independent(run):
    async def scenario(make: Make) -> None:
        gates = make()
        await gates.acquire("a", 1, 5, _later())
        assert (await asyncio.wait_for(gates.acquire("b", 1, 5, _later()), 10)).current == 1

    run(scenario)


def test_two_replicas_share_one_limit(shared_redis):
    url, prefix = shared_redis

    async def scenario(make: Make) -> None:
        first, second = make(), make()
        held = await first.acquire("g", 2, 5, _later())
        assert held.current == 1
        assert (await second.acquire("g", 2, 5, _later())).current == 2
        with pytest.raises(GateTimeout):
            await second.acquire("g", 2, 5, time.monotonic() + 0.3)
        waiter = asyncio.create_task(second.acquire("g", 2, 5, _later()))
        await _eventually(first, "waiting", 1)
        await held.release()  # one replica's release lets the other's waiter in
        assert (await asyncio.wait_for(waiter, 10)).current == 2

    asyncio.run(_with_redis_gates(url, prefix, scenario))


def test_a_killed_replica_gives_its_places_back_within_a_lease(shared_redis):
    url, prefix = shared_redis
    lease_ms = 400
    replica = subprocess.Popen([sys.executable, "-c", _REPLICA, url, prefix, str(lease_ms)])

    async def scenario(make: Make) -> None:
        gates = make(lease_ms=lease_ms)
        await _eventually(gates, "inside", 1)
        await _eventually(gates, "waiting", 1)
        # Several leases long: the live replica keeps renewing its place.
        with pytest.raises(GateTimeout):
            await gates.acquire("g", 1, 5, time.monotonic() + 4 * lease_ms / 1000)
        replica.kill()
        replica.wait()
        killed = time.monotonic()
        hold = await asyncio.wait_for(gates.acquire("g", 1, 5, _later()), 10)
        assert hold.current == 1
        assert time.monotonic() - killed < 5  # about one lease, with a wide margin
        assert await _count(gates, "waiting") == 0  # its waiter's lease ran out too

    try:
        asyncio.run(_with_redis_gates(url, prefix, scenario))
    finally:
        replica.kill()
        replica.wait()


def test_close_gives_back_places_and_leaves_the_client_open(shared_redis):
    url, prefix = shared_redis

    async def scenario(make: Make) -> None:
        client = redis.asyncio.Redis.from_url(url)
        closing = RedisGates(client, 10, prefix)
        try:
            for _ in range(2):
                await closing.acquire("g", 2, 5, _later())
            await closing.close()
            assert await client.ping()
            assert await _count(make(), "inside") == 0
        finally:
            await client.aclose()

    asyncio.run(_with_redis_gates(url, prefix, scenario))


def test_a_release_cancelled_on_its_way_still_gives_the_place_back(run):
    async def scenario(make: Make) -> None:
        gates = make()
        hold = await gates.acquire("g", 1, 5, _later())
        releasing = asyncio.create_task(hold.release())
        await asyncio.sleep(0)  # under way
        releasing.cancel()
        await asyncio.gather(releasing, return_exceptions=True)
        await _eventually(gates, "inside", 0)

    run(scenario)


@pytest.mark.parametrize("spins", [0, 1, 2, 3])
def test_a_waiter_cancelled_as_its_place_comes_free_does_not_run(run, spins):
    async def scenario(make: Make) -> None:
        gates = make()
        holder = await gates.acquire("g", 1, 5, _later())
        waiter = asyncio.create_task(gates.acquire("g", 1, 5, _later()))
        await _eventually(gates, "waiting", 1)
        await holder.release()
        for _ in range(spins):
            await asyncio.sleep(0)
        if waiter.cancel():
            with pytest.raises(asyncio.CancelledError):
                await waiter  # a cancelled request never gets a place it would go on to use
        else:
            await (waiter.result()).release()
        await _eventually(gates, "inside", 0)
        assert (await gates.acquire("g", 1, 5, _later())).current == 1

    run(scenario)


def test_tickets_stay_unique_when_redis_forgets_everything(shared_redis):
    url, prefix = shared_redis

    async def scenario(make: Make) -> None:
        gates = make()
        before = await gates.acquire("g", 1, 5, _later())
        client = redis.asyncio.Redis.from_url(url)
        try:
            await client.delete(*[key async for key in client.scan_iter(f"{prefix}*")])  # a restart
        finally:
            await client.aclose()
        after = await gates.acquire("g", 1, 5, _later())  # the arrival counter starts again at 1
        await before.release()  # must not take the newer request's place away
        assert await _count(gates, "inside") == 1
        with pytest.raises(GateTimeout):
            await gates.acquire("g", 1, 5, time.monotonic() + 0.3)
        await after.release()

    asyncio.run(_with_redis_gates(url, prefix, scenario))

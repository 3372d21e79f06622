"""The server's gate by weight: requests enter while their engine load fits the workers' capacity."""

from __future__ import annotations

import asyncio
import time

import pytest

from intone.admission.admission import CHARACTERS_PER_SECOND, weight
from intone.admission.gates import GateTimeout, LocalGates


def _deadline(seconds: float = 0.2) -> float:
    return time.monotonic() + seconds


def test_light_requests_enter_together_while_their_load_fits():
    async def scenario() -> None:
        gates = LocalGates(10)
        holds = [await gates.acquire("server", 1.8, 0, _deadline(), weight=0.06) for _ in range(30)]
        assert gates.inside("server") == 30  # thirty Piper streams fit where a count of 4 would queue
        with pytest.raises(GateTimeout):
            await gates.acquire("server", 1.8, 0, _deadline(), weight=0.35)
        for hold in holds[:6]:
            await hold.release()
        await (await gates.acquire("server", 1.8, 0, _deadline(), weight=0.35)).release()

    asyncio.run(scenario())


def test_a_request_heavier_than_the_whole_capacity_still_runs_alone():
    async def scenario() -> None:
        gates = LocalGates(10)
        alone = await gates.acquire("server", 0.5, 0, _deadline(), weight=3.0)
        with pytest.raises(GateTimeout):
            await gates.acquire("server", 0.5, 0, _deadline(), weight=0.01)
        await alone.release()

    asyncio.run(scenario())


def test_light_requests_pass_a_heavy_one_waiting_only_within_their_share():
    async def scenario() -> list[str]:
        gates = LocalGates(10)
        order: list[str] = []
        running = [await gates.acquire("server", 1.0, 0, _deadline(), weight=0.4) for _ in range(2)]
        held: dict[str, asyncio.Event] = {}

        async def enter(name: str, load: float) -> None:
            hold = await gates.acquire("server", 1.0, 0, _deadline(5), weight=load)
            order.append(name)
            held[name] = asyncio.Event()
            await held[name].wait()
            await hold.release()

        tasks = [asyncio.create_task(enter("heavy", 0.9))]
        await asyncio.sleep(0.01)
        # The first light one fits and passes "heavy"; the second would fit too, but passing ones may
        # hold only 0.15 of the limit, so it waits its turn behind "heavy".
        tasks += [asyncio.create_task(enter(name, 0.1)) for name in ("light", "later light")]
        await asyncio.sleep(0.05)
        assert order == ["light"]
        for hold in running:
            await hold.release()
        held["light"].set()
        await asyncio.sleep(0.05)
        assert order == ["light", "heavy", "later light"]
        for event in held.values():
            event.set()
        await asyncio.gather(*tasks)
        return order

    assert asyncio.run(scenario()) == ["light", "heavy", "later light"]


def test_a_count_cap_holds_whatever_the_weights():
    async def scenario() -> None:
        gates = LocalGates(10)
        first = await gates.acquire("server", 10.0, 0, _deadline(), weight=0.01, count_limit=1)
        with pytest.raises(GateTimeout):
            await gates.acquire("server", 10.0, 0, _deadline(), weight=0.01, count_limit=1)
        await first.release()

    asyncio.run(scenario())


def test_a_request_weighs_its_engines_real_time_factor_less_when_it_is_short():
    long_text = int(CHARACTERS_PER_SECOND * 60)
    assert weight(0.35, long_text, 1.0) == pytest.approx(0.35)
    assert weight(0.35, 3, 1.0) < 0.03  # "Hi." holds the workers for a moment only
    assert weight(0.35, 20, 1.2) < weight(0.35, 20, 0.8)  # faster speech is shorter

"""Admission: a key's tier limit per concurrency group, then the server's own limit, with priorities."""

from __future__ import annotations

import asyncio

import pytest

from intone.accounts.caller import Caller
from intone.accounts.scopes import DEFAULT_SCOPES
from intone.accounts.tiers import get_tier
from intone.admission.admission import Admission, Admitted, Overloaded
from intone.admission.gates import LocalGates
from intone.speech.models import ConcurrencyGroup

STANDARD, TURBO = ConcurrencyGroup.STANDARD, ConcurrencyGroup.TURBO


def _caller(subject: str, tier: str) -> Caller:
    return Caller(subject, subject, DEFAULT_SCOPES, get_tier(tier), None)


def _admission(capacity: int, max_wait: float = 5.0, max_waiting: int = 10) -> Admission:
    return Admission(LocalGates(max_waiting), LocalGates(max_waiting), capacity, max_wait)


def test_a_key_gets_its_tier_limit_per_group_with_current_and_maximum():
    async def scenario() -> None:
        admission = _admission(capacity=10)
        free = _caller("k", "free")
        standard = [await admission.admit(free, STANDARD) for _ in range(2)]
        assert [(a.current, a.maximum) for a in standard] == [(1, 2), (2, 2)]
        turbo = await admission.admit(free, TURBO)
        assert (turbo.current, turbo.maximum) == (1, 4)
        admission.max_wait = 0.05
        with pytest.raises(Overloaded) as refused:
            await admission.admit(free, STANDARD)
        assert refused.value.status == "too_many_concurrent_requests"
        assert refused.value.retry_after >= 1
        other = await admission.admit(_caller("other", "free"), STANDARD)  # limits are per key
        assert other.current == 1

    asyncio.run(scenario())


def test_over_its_limit_a_request_waits_for_a_place_instead_of_failing():
    async def scenario() -> None:
        admission = _admission(capacity=10)
        free = _caller("k", "free")
        held = [await admission.admit(free, STANDARD) for _ in range(2)]
        waiting = asyncio.create_task(admission.admit(free, STANDARD))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await held[0].release()
        admitted = await asyncio.wait_for(waiting, 1)
        assert admitted.current == 2

    asyncio.run(scenario())


def test_the_server_limit_holds_whatever_the_keys_and_is_system_busy():
    async def scenario() -> None:
        admission = _admission(capacity=2, max_wait=0.05)
        for name in ("a", "b"):
            await admission.admit(_caller(name, "enterprise"), TURBO)
        with pytest.raises(Overloaded) as refused:
            await admission.admit(_caller("c", "enterprise"), TURBO)
        assert refused.value.status == "system_busy"
        # The refused request gave its key place back: the key has nothing in flight.
        assert admission.keys.inside("c:turbo") == 0

    asyncio.run(scenario())


def test_a_full_server_queue_refuses_at_once():
    async def scenario() -> None:
        admission = _admission(capacity=1, max_wait=30, max_waiting=1)
        await admission.admit(_caller("a", "pro"), TURBO)
        queued = asyncio.create_task(admission.admit(_caller("b", "pro"), TURBO))
        await asyncio.sleep(0.05)
        with pytest.raises(Overloaded) as refused:
            await asyncio.wait_for(admission.admit(_caller("c", "pro"), TURBO), 1)
        assert refused.value.status == "system_busy"
        queued.cancel()

    asyncio.run(scenario())


def test_higher_priority_goes_first_then_first_come_first_served():
    async def scenario() -> list[str]:
        admission = _admission(capacity=1)
        holder = await admission.admit(_caller("holder", "pro"), TURBO)
        order: list[str] = []

        async def request(name: str, tier: str) -> None:
            admitted = await admission.admit(_caller(name, tier), TURBO)
            order.append(name)
            await admitted.release()

        tasks = []
        for name, tier in (
            ("free-1", "free"),
            ("starter", "starter"),
            ("free-2", "free"),
            ("top", "enterprise"),
        ):
            tasks.append(asyncio.create_task(request(name, tier)))
            await asyncio.sleep(0.01)
        await holder.release()
        await asyncio.gather(*tasks)
        return order

    assert asyncio.run(scenario()) == ["top", "starter", "free-1", "free-2"]


def test_release_is_idempotent():
    async def scenario() -> Admitted:
        admission = _admission(capacity=1)
        admitted = await admission.admit(_caller("a", "pro"), TURBO)
        await admitted.release()
        await admitted.release()
        again = await admission.admit(_caller("a", "pro"), TURBO)
        assert again.current == 1
        return again

    asyncio.run(scenario())

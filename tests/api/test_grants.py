"""Grants on a real store and real admission: what a request is charged, and when it gets it back."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from intone.accounts.caller import Caller
from intone.accounts.scopes import DEFAULT_SCOPES
from intone.accounts.tiers import get_tier
from intone.admission.admission import Admission
from intone.admission.gates import LocalGates
from intone.api import grants
from intone.api.errors import ApiError
from intone.api.grants import grant
from intone.api.state import Services
from intone.scheduling.speeds import EngineSpeeds
from intone.speech.models import Model, get_model
from intone.speech.synthesizer import Workload
from intone.store.charges import Charge
from intone.store.database import Store

FLASH = get_model("eleven_flash_v2")  # half a credit per character
MULTILINGUAL = get_model("eleven_multilingual_v2")


class _Services:
    """The parts of Services a grant uses. `capacity` caps the requests running at once."""

    def __init__(self, store: Store, capacity: int = 4, max_wait: float = 5.0) -> None:
        self.store = store
        self.admission = Admission(LocalGates(10), LocalGates(10), capacity, max_wait, max_requests=capacity)
        self.scheduler = SimpleNamespace(speeds=EngineSpeeds())


def _plan(model: Model) -> Workload:
    return cast(Workload, SimpleNamespace(model=model, engine="kokoro", speed=1.0))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'intone.db'}")
    store.migrate()
    yield store
    store.close()


def _svc(store: Store, **options: Any) -> Services:
    return cast(Services, _Services(store, **options))


def _caller(limit: int | None = None, tier: str = "pro") -> Caller:
    return Caller("key_test", "test", DEFAULT_SCOPES, get_tier(tier), limit)


def test_segments_of_a_stream_cost_what_its_whole_text_would(store):
    async def scenario() -> list[int]:
        svc, caller, credits = _svc(store), _caller(), []
        for charged in range(5):  # five one-character segments: 2.5 credits, so 3, not 5
            granted = await grant(svc, caller, _plan(FLASH), 1, charged)
            credits.append(granted.credits)
            await granted.end(delivered=True)
        return credits

    assert sum(asyncio.run(scenario())) == 3
    assert store.usage.get("key_test") == 3


def test_credits_come_back_only_when_nothing_was_delivered_and_only_once(store):
    async def scenario() -> None:
        svc = _svc(store)
        kept = await grant(svc, _caller(), _plan(MULTILINGUAL), 10)
        await kept.end(delivered=True)
        undelivered = await grant(svc, _caller(), _plan(MULTILINGUAL), 7)
        await undelivered.end(delivered=False)
        await undelivered.end(delivered=False)

    asyncio.run(scenario())
    assert store.usage.get("key_test") == 10


def test_a_429_costs_nothing(store):
    async def scenario() -> None:
        svc = _svc(store, capacity=1, max_wait=0.2)
        held = await grant(svc, _caller(), _plan(MULTILINGUAL), 5)
        with pytest.raises(ApiError) as refused:
            await grant(svc, _caller(), _plan(MULTILINGUAL), 9)
        assert refused.value.http_status == 429 and refused.value.status == "system_busy"
        await held.end(delivered=True)

    asyncio.run(scenario())
    assert store.usage.get("key_test") == 5


def test_a_request_cancelled_while_it_is_charged_gets_the_charge_back(store, monkeypatch):
    charged = threading.Event()
    real_open = store.charges.open

    def slow_open(*args: Any) -> Charge | None:
        time.sleep(0.2)  # the client hangs up meanwhile
        charge = real_open(*args)
        charged.set()
        return charge

    monkeypatch.setattr(store.charges, "open", slow_open)

    async def scenario() -> None:
        charging = asyncio.create_task(grant(_svc(store), _caller(), _plan(MULTILINGUAL), 11))
        await asyncio.sleep(0.05)
        charging.cancel()
        with pytest.raises(asyncio.CancelledError):
            await charging
        await asyncio.to_thread(charged.wait, 5)  # the charge went through in its thread...
        for _ in range(500):  # ... and is then given back
            if not grants._late_refunds and store.usage.get("key_test") == 0:
                return
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert charged.is_set() and store.usage.get("key_test") == 0
    assert store.charges.renew() == 0  # settled: nothing left pending


def test_a_charge_stays_pending_in_the_database_until_its_request_ends(store):
    async def scenario() -> None:
        svc = _svc(store)
        running = await grant(svc, _caller(), _plan(MULTILINGUAL), 10)
        refused = await grant(svc, _caller(), _plan(MULTILINGUAL), 4)
        # Both charged, both pending: a server killed now would have them given back.
        assert store.usage.get("key_test") == 14 and store.charges.renew() == 2
        await refused.end(delivered=False)
        await running.end(delivered=True)
        assert store.usage.get("key_test") == 10 and store.charges.renew() == 0

    asyncio.run(scenario())


def test_over_quota_nothing_is_charged(store):
    async def scenario() -> None:
        svc = _svc(store)
        await (await grant(svc, _caller(limit=10), _plan(MULTILINGUAL), 8)).end(delivered=True)
        with pytest.raises(ApiError) as refused:
            await grant(svc, _caller(limit=10), _plan(MULTILINGUAL), 3)
        assert (refused.value.http_status, refused.value.status) == (401, "quota_exceeded")

    asyncio.run(scenario())
    assert store.usage.get("key_test") == 8

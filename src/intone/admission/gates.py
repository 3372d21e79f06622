"""Gates: named counters of requests in flight, each with a limit and a priority queue in front.

A request that finds its gate full waits: higher priority first, first come first served within a
priority. The wait is bounded by a deadline, and the queue by a length; either ends in `GateTimeout`
or `GateFull`. `LocalGates` keeps all this in the process; `intone.cluster.gates.RedisGates` keeps it
in Redis so that every replica sees the same counts.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol


class GateFull(Exception):
    """The queue in front of the gate is as long as it may be."""


class GateTimeout(Exception):
    """The deadline passed before a place came free."""


@dataclass
class Hold:
    """A place inside a gate. `release` gives it back; calling it again does nothing."""

    current: int  # requests inside the gate, this one included, when it entered
    _release: Callable[[], Awaitable[None]]
    _released: bool = field(default=False, init=False)

    async def release(self) -> None:
        if not self._released:
            self._released = True
            await self._release()


class Gates(Protocol):
    async def acquire(self, name: str, limit: int, priority: int, deadline: float) -> Hold:
        """Enter gate `name` (at most `limit` inside), waiting until the monotonic `deadline` at most.
        Raises GateFull or GateTimeout."""
        ...

    async def waiting(self, name: str) -> int:
        """Requests queued in front of gate `name`."""
        ...

    async def close(self) -> None: ...


# Share of a gate's limit that light requests may hold by passing a waiting request too heavy to enter
# (see `_Gate`).
PASSING_SHARE = 0.15


@dataclass(order=True)
class _Waiter:
    rank: tuple[int, int]  # (-priority, arrival): the smallest enters first
    admitted: asyncio.Future[int] = field(compare=False)
    weight: float = field(default=1.0, compare=False)
    passed: bool = field(default=False, compare=False)  # entered ahead of a waiter that did not fit


class _Gate:
    """Requests inside, and their load: a request weighs 1 unless it says otherwise, and enters while
    the load stays within the limit (or alone: one request heavier than the limit must still run).

    Requests enter in rank order. While the first in line does not fit, a lighter one behind it that
    fits may pass it, as long as the passing requests inside hold at most `PASSING_SHARE` of the limit:
    a short request is not kept waiting for long ones to finish, and the one passed waits at most for
    that share more of the load to drain."""

    def __init__(self) -> None:
        self.inside = 0
        self.load = 0.0
        self.passing = 0.0  # load of the requests inside that passed a waiter
        self.limit = 1.0
        self.count_limit: int | None = None
        self.waiting: list[_Waiter] = []  # in arrival order; `admit_waiters` takes them by rank

    def fits(self, weight: float) -> bool:
        if self.inside == 0:
            return True
        if self.count_limit is not None and self.inside >= self.count_limit:
            return False
        return self.load + weight <= self.limit + 1e-9

    def may_pass(self, weight: float) -> bool:
        return self.fits(weight) and self.passing + weight <= PASSING_SHARE * self.limit + 1e-9

    def enter(self, weight: float, passed: bool = False) -> int:
        self.inside += 1
        self.load += weight
        if passed:
            self.passing += weight
        return self.inside

    def leave(self, weight: float, passed: bool) -> None:
        self.inside -= 1
        self.load = max(0.0, self.load - weight) if self.inside else 0.0
        if passed:
            self.passing = max(0.0, self.passing - weight) if self.inside else 0.0

    def admit_waiters(self) -> None:
        blocked = False  # a waiter ahead did not fit: the rest may only pass it
        for waiter in sorted(self.waiting):
            if waiter.admitted.done():  # a cancelled waiter left its place without admission
                continue
            if not blocked and self.fits(waiter.weight):
                waiter.admitted.set_result(self.enter(waiter.weight))
            elif blocked and self.may_pass(waiter.weight):
                waiter.passed = True
                waiter.admitted.set_result(self.enter(waiter.weight, passed=True))
            else:
                blocked = True
        self.waiting = [waiter for waiter in self.waiting if not waiter.admitted.done()]


class LocalGates:
    """Gates in this process (one event loop)."""

    def __init__(self, max_waiting: int) -> None:
        self.max_waiting = max_waiting
        self._gates: dict[str, _Gate] = {}
        self._arrivals = itertools.count()

    def inside(self, name: str) -> int:
        gate = self._gates.get(name)
        return gate.inside if gate else 0

    def _queued(self, name: str) -> int:
        gate = self._gates.get(name)
        return sum(not waiter.admitted.done() for waiter in gate.waiting) if gate else 0

    async def waiting(self, name: str) -> int:
        return self._queued(name)

    async def acquire(
        self,
        name: str,
        limit: float,
        priority: int,
        deadline: float,
        weight: float = 1.0,
        count_limit: int | None = None,
    ) -> Hold:
        """As `Gates.acquire`; here a request may weigh more or less than 1 against `limit`, and
        `count_limit` caps the requests inside whatever they weigh."""
        gate = self._gates.setdefault(name, _Gate())
        gate.limit, gate.count_limit = limit, count_limit
        gate.admit_waiters()  # a raised limit lets waiters in
        if not gate.waiting and gate.fits(weight):
            return self._hold(name, gate, gate.enter(weight), weight, passed=False)
        if gate.waiting and gate.may_pass(weight):  # those waiting do not fit (admit_waiters)
            return self._hold(name, gate, gate.enter(weight, passed=True), weight, passed=True)
        if self._queued(name) >= self.max_waiting:
            raise GateFull(name)
        waiter = _Waiter(
            (-priority, next(self._arrivals)), asyncio.get_running_loop().create_future(), weight
        )
        gate.waiting.append(waiter)
        try:
            # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives just as the
            # place is handed over, and the cancelled request would then run.
            async with asyncio.timeout(deadline - time.monotonic()):
                current = await asyncio.shield(waiter.admitted)
        except (TimeoutError, asyncio.CancelledError) as error:
            if waiter.admitted.done() and not waiter.admitted.cancelled():
                # Admitted just as the wait ended: give the place to the next one.
                await self._leave(name, gate, weight, waiter.passed)
            else:
                waiter.admitted.cancel()
                gate.waiting = [w for w in gate.waiting if w is not waiter]
            if isinstance(error, TimeoutError):
                raise GateTimeout(name) from None
            raise
        return self._hold(name, gate, current, weight, waiter.passed)

    def _hold(self, name: str, gate: _Gate, current: int, weight: float, passed: bool) -> Hold:
        async def release() -> None:
            await self._leave(name, gate, weight, passed)

        return Hold(current, release)

    async def _leave(self, name: str, gate: _Gate, weight: float, passed: bool) -> None:
        gate.leave(weight, passed)
        gate.admit_waiters()
        if gate.inside == 0 and not gate.waiting:
            self._gates.pop(name, None)

    async def close(self) -> None:
        return None

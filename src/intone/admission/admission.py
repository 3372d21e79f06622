"""Admission: whether, and when, a synthesis request may start.

Two gates in a row. The key's gate holds it to its tier's limit for the model's concurrency group
(shared by all replicas when Redis is configured). The server's gate bounds the engine work running in
this process, whatever the keys: each request weighs the share of one engine worker it needs to keep
its listener in real time (its engine's measured real-time factor), less when its text is short enough
to be done in a moment, and requests enter while the total stays within the workers' capacity. So
many cheap streams run at once, and when the machine cannot keep every stream in real time, new
requests wait, by their key's priority, rather than making every stream stutter. Both waits share one
deadline; running out of it, or finding a queue full, is a 429: `too_many_concurrent_requests` for
the key's own limit, `system_busy` for the server's.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from intone import metrics
from intone.accounts.caller import Caller
from intone.admission.gates import GateFull, Gates, GateTimeout, Hold, LocalGates
from intone.speech.models import ConcurrencyGroup

SERVER_GATE = "server"
# Characters of speech per second at speed 1, to guess a text's length before it is synthesized (English
# reads at about 14; other scripts differ, and the guess only sizes a request's weight).
CHARACTERS_PER_SECOND = 14.0
# A request weighs its full real-time factor when its audio lasts at least this long; a shorter one
# weighs in proportion, since it holds the workers for only a moment.
_HORIZON = 4.0
# How much each finished request moves the average hold time behind Retry-After.
_SMOOTHING = 0.2


class Overloaded(Exception):
    def __init__(self, status: str, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


@dataclass
class Admitted:
    """A request allowed to run. `current` and `maximum` are the key's numbers for the response headers."""

    current: int
    maximum: int
    waited: float  # seconds spent queueing for the places
    _holds: tuple[Hold, ...]
    _admission: Admission
    _since: float

    async def release(self) -> None:
        if self._since:
            self._admission._finished(time.monotonic() - self._since)
            self._since = 0.0
        for hold in reversed(self._holds):
            await hold.release()


class Admission:
    def __init__(
        self,
        keys: Gates,
        server: LocalGates,
        capacity: float,
        max_wait: float,
        max_requests: int | None = None,
    ) -> None:
        """`capacity`: engine workers' time admitted requests may need (2 workers: 2.0, less a margin);
        `max_requests`: an optional cap on the requests running at once, whatever they weigh."""
        self.keys = keys
        self.server = server
        self.capacity = capacity
        self.max_requests = max_requests
        self.max_wait = max_wait
        self._average_hold = 1.0  # seconds; a guess until requests finish

    async def admit(self, caller: Caller, group: ConcurrencyGroup, weight: float = 1.0) -> Admitted:
        """`weight`: the request's share of an engine worker (see `weight`)."""
        arrived = time.monotonic()
        deadline = arrived + self.max_wait
        limit = caller.tier.limit(group)
        priority = caller.tier.priority
        key_gate = f"{caller.subject}:{group.value}"
        try:
            key_hold = await self.keys.acquire(key_gate, limit, priority, deadline)
        except (GateFull, GateTimeout):
            raise Overloaded(
                "too_many_concurrent_requests",
                f"This key already has {limit} requests in flight for {group.value} models, the limit of "
                f"its '{caller.tier.name}' tier, and more are waiting. Retry later, or use a higher tier.",
                self._retry_after(await self.keys.waiting(key_gate), limit),
            ) from None
        try:
            server_hold = await self.server.acquire(
                SERVER_GATE, self.capacity, priority, deadline, weight, self.max_requests
            )
        except BaseException as error:
            await key_hold.release()
            if isinstance(error, GateFull | GateTimeout):
                raise Overloaded(
                    "system_busy",
                    "The server is busy with other requests and its queue is full. Retry later.",
                    self._retry_after(await self.server.waiting(SERVER_GATE), self._places(weight)),
                ) from None
            raise
        now = time.monotonic()
        metrics.waited(caller.tier.name, now - arrived)
        return Admitted(key_hold.current, limit, now - arrived, (key_hold, server_hold), self, now)

    def _places(self, weight: float) -> int:
        """How many requests like this one run at once."""
        places = math.floor(self.capacity / max(weight, 1e-3))
        return max(1, min(places, self.max_requests or places))

    def _finished(self, seconds: float) -> None:
        self._average_hold += _SMOOTHING * (seconds - self._average_hold)

    def _retry_after(self, waiting: int, places: int) -> int:
        """Seconds until a place is likely free: the `waiting` requests ahead and this one, served
        `places` at a time."""
        return max(1, min(60, math.ceil(self._average_hold * (waiting + 1) / max(1, places))))

    async def close(self) -> None:
        await self.keys.close()


def weight(factor: float, characters: int, speed: float) -> float:
    """A request's share of an engine worker: its engine's real-time factor (engine seconds per second
    of audio), scaled down when its text is shorter than the horizon."""
    seconds = characters / (CHARACTERS_PER_SECOND * max(speed, 0.1))
    return factor * min(1.0, seconds / _HORIZON)

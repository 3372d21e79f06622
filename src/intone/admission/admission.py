"""Admission: whether, and when, a synthesis request may start.

Two gates in a row. The key's gate holds it to its tier's limit for the model's concurrency group
(shared by all replicas when Redis is configured). The server's gate bounds the synthesis running in
this process, whatever the keys: that is the hardware's limit, and over it requests queue by their
key's priority. Both waits share one deadline; running out of it, or finding a queue full, is a 429:
`too_many_concurrent_requests` for the key's own limit, `system_busy` for the server's.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from intone.accounts.caller import Caller
from intone.admission.gates import GateFull, Gates, GateTimeout, Hold, LocalGates
from intone.speech.models import ConcurrencyGroup

SERVER_GATE = "server"
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
    def __init__(self, keys: Gates, server: LocalGates, capacity: int, max_wait: float) -> None:
        self.keys = keys
        self.server = server
        self.capacity = capacity
        self.max_wait = max_wait
        self._average_hold = 1.0  # seconds; a guess until requests finish

    async def admit(self, caller: Caller, group: ConcurrencyGroup) -> Admitted:
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
            server_hold = await self.server.acquire(SERVER_GATE, self.capacity, priority, deadline)
        except BaseException as error:
            await key_hold.release()
            if isinstance(error, GateFull | GateTimeout):
                raise Overloaded(
                    "system_busy",
                    "The server is busy with other requests and its queue is full. Retry later.",
                    self._retry_after(await self.server.waiting(SERVER_GATE), self.capacity),
                ) from None
            raise
        now = time.monotonic()
        return Admitted(key_hold.current, limit, now - arrived, (key_hold, server_hold), self, now)

    def _finished(self, seconds: float) -> None:
        self._average_hold += _SMOOTHING * (seconds - self._average_hold)

    def _retry_after(self, waiting: int, places: int) -> int:
        """Seconds until a place is likely free: the `waiting` requests ahead and this one, served
        `places` at a time."""
        return max(1, min(60, math.ceil(self._average_hold * (waiting + 1) / max(1, places))))

    async def close(self) -> None:
        await self.keys.close()

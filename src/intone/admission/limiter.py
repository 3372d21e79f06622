"""How many synthesis requests one server process serves at once.

Requests beyond the limit wait their turn (first come, first served) instead of failing. The counts
are the ones the API reports in `current-concurrent-requests` and `maximum-concurrent-requests`.
"""

from __future__ import annotations

import asyncio


class Slot:
    """A held place among the concurrent requests; `release` is safe to call more than once."""

    def __init__(self, limiter: Limiter, current: int) -> None:
        self._limiter = limiter
        self.current = current  # requests in flight, this one included, when it was admitted
        self._held = True

    @property
    def maximum(self) -> int:
        return self._limiter.maximum

    def release(self) -> None:
        if self._held:
            self._held = False
            self._limiter._leave()


class Limiter:
    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self.current = 0
        self._free = asyncio.Semaphore(maximum)

    async def enter(self) -> Slot:
        await self._free.acquire()
        self.current += 1
        return Slot(self, self.current)

    def _leave(self) -> None:
        self.current -= 1
        self._free.release()

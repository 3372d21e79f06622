"""A stream's place among the running requests, held while its audio is computed, given back while its
client is not taking the audio.

Admission counts the work that must keep listeners in real time. A stream whose client does not read,
or reads slower than the audio is made, waits on its sends with no engine work to do; holding its place
then would shut out other requests while the engines idle. So when handing one message to the client
has taken `SEND_GRACE`, the place is given back; the stream takes one again, waiting its turn like a new
request of its key, before its next window is computed. The credits stay charged (the grant's): only
the place comes and goes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from intone.accounts.caller import Caller
from intone.admission.admission import Admitted, Overloaded, weight
from intone.api.state import Services
from intone.speech.synthesizer import Workload

# A client that reads keeps the connection's buffers from filling, so its sends complete at once; one
# whose send waits this long is behind by the whole buffers (seconds of audio), or reads nothing.
SEND_GRACE = 0.25


class Place:
    """The place a grant was admitted with (`admitted`), then any taken again after giving it back."""

    def __init__(
        self, svc: Services, caller: Caller, plan: Workload, characters: int, admitted: Admitted
    ) -> None:
        self._svc = svc
        self._caller = caller
        self._group = plan.model.concurrency_group
        self._weight = weight(svc.scheduler.speeds.factor(plan.engine), characters, plan.speed)
        self._admitted: Admitted | None = admitted

    async def send(self, sending: Awaitable[None]) -> None:
        """Awaits `sending`, giving the place back if it has not completed within SEND_GRACE."""
        task = asyncio.ensure_future(sending)
        try:
            await asyncio.wait({task}, timeout=SEND_GRACE)
            if not task.done():
                await self.release()
            await task
        finally:
            task.cancel()  # the caller was cancelled meanwhile; nothing once the send is done

    async def take(self) -> None:
        """Holds a place again, if it was given back: call before computing the next window. The client
        has audio to play meanwhile, so the stream waits for as long as the server is full, rather than
        ending mid-way; its own cancellation (the client leaving) ends the wait."""
        while self._admitted is None:
            try:
                self._admitted = await self._svc.admission.admit(self._caller, self._group, self._weight)
            except Overloaded as error:
                await asyncio.sleep(error.retry_after)

    async def release(self) -> None:
        admitted, self._admitted = self._admitted, None
        if admitted is not None:
            await asyncio.shield(admitted.release())

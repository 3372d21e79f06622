"""A grant: a request's credits charged to its caller's quota and its place among the running requests.

Credits are charged before waiting for a place, so a request over quota never waits and never runs.
Credits come back when nothing was delivered: no place came free (429), synthesis failed before the
first byte, or the client left before it. Charging and giving back are shielded from cancellation, so
a client that hangs up at the wrong moment can neither keep a place nor be charged for nothing. The
charge stays pending in the database until the request ends, so a server killed meanwhile gives the
credits back too, through whichever server next sweeps the database (store/charges.py).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool

from intone import metrics
from intone.accounts.caller import Caller
from intone.admission.admission import Admitted, Overloaded, weight
from intone.api.errors import ApiError, too_busy
from intone.api.state import Services
from intone.speech.models import Model
from intone.speech.synthesizer import Workload
from intone.store.charges import Charge

# Refunds of charges whose request was cancelled while the database was still charging it.
_late_refunds: set[asyncio.Task[None]] = set()


@dataclass
class Grant:
    svc: Services
    charge: Charge
    admitted: Admitted
    _ended: bool = False

    @property
    def credits(self) -> int:
        return self.charge.credits

    @property
    def total(self) -> int:
        """The caller's credits used, this request included."""
        return self.charge.total

    @property
    def current(self) -> int:
        return self.admitted.current

    @property
    def maximum(self) -> int:
        return self.admitted.maximum

    async def end(self, delivered: bool) -> None:
        """Gives the place back, and the credits too unless some audio was delivered. Only the first
        call counts."""
        if self._ended:
            return
        self._ended = True
        metrics.ended(self.credits if delivered else 0)
        await asyncio.shield(self._end(delivered))

    async def _end(self, delivered: bool) -> None:
        try:
            await self.admitted.release()
        finally:
            await settle(self.svc, self.charge, delivered)


def credits_for(model: Model, characters: int) -> int:
    return math.ceil(characters * model.cost_multiplier)


async def grant(svc: Services, caller: Caller, plan: Workload, characters: int, before: int = 0) -> Grant:
    """Raises ApiError: 401 quota_exceeded, 429 too_many_concurrent_requests or system_busy.

    `before`: characters of the same stream already charged, so that a socket's segments together cost
    what its whole text would (half-credit models would otherwise round up every segment)."""
    model = plan.model
    credits = credits_for(model, before + characters) - credits_for(model, before)
    charge = await _charge(svc, caller, credits)
    if charge is None:
        raise await _quota_exceeded(svc, caller, credits)
    try:
        load = weight(svc.scheduler.speeds.factor(plan.engine), characters, plan.speed)
        admitted = await svc.admission.admit(caller, model.concurrency_group, load)
    except BaseException as error:
        await settle(svc, charge, delivered=False)
        if isinstance(error, Overloaded):
            raise too_busy(error) from None
        raise
    metrics.granted(model.model_id, caller.subject)
    return Grant(svc, charge, admitted)


async def _charge(svc: Services, caller: Caller, credits: int) -> Charge | None:
    """The pending charge, or None when over quota. A cancelled caller's charge still completes in its
    thread; it is then given back."""
    charging = asyncio.ensure_future(
        run_in_threadpool(svc.store.charges.open, caller.subject, credits, caller.character_limit)
    )
    try:
        return await asyncio.shield(charging)
    except asyncio.CancelledError:
        charging.add_done_callback(lambda done: _refund_later(svc, done))
        raise


def _refund_later(svc: Services, charging: asyncio.Future[Charge | None]) -> None:
    if charging.cancelled() or charging.exception() is not None or charging.result() is None:
        return  # nothing was charged
    task = asyncio.ensure_future(settle(svc, charging.result(), delivered=False))
    _late_refunds.add(task)
    task.add_done_callback(_late_refunds.discard)


async def settle(svc: Services, charge: Charge, delivered: bool) -> None:
    """Ends a pending charge, giving the credits back unless something was delivered; finishes even when
    the caller is cancelled meanwhile."""
    await asyncio.shield(run_in_threadpool(svc.store.charges.settle, charge, delivered))


async def _quota_exceeded(svc: Services, caller: Caller, credits: int) -> ApiError:
    used = await run_in_threadpool(svc.store.usage.get, caller.subject)
    limit = caller.character_limit or 0
    return ApiError(
        401,
        "quota_exceeded",
        f"This request exceeds your quota of {limit}. You have {max(0, limit - used)} credits remaining, "
        f"while {credits} credits are required for this request.",
    )

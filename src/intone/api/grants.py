"""A grant: a request's credits charged to its caller's quota and its place among the running requests.

Credits are charged before waiting for a place, so a request over quota never waits and never runs;
a request that then cannot get a place (429) gets its credits back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool

from intone.accounts.caller import Caller
from intone.admission.admission import Admitted, Overloaded
from intone.api.errors import ApiError
from intone.api.state import Services
from intone.speech.models import Model


@dataclass
class Grant:
    subject: str
    credits: int
    total: int  # the caller's credits used, this request included
    admitted: Admitted

    @property
    def current(self) -> int:
        return self.admitted.current

    @property
    def maximum(self) -> int:
        return self.admitted.maximum

    async def release(self) -> None:
        await self.admitted.release()


def credits_for(model: Model, characters: int) -> int:
    return math.ceil(characters * model.cost_multiplier)


async def grant(svc: Services, caller: Caller, model: Model, characters: int) -> Grant:
    """Raises ApiError: 401 quota_exceeded, 429 too_many_concurrent_requests or system_busy."""
    credits = credits_for(model, characters)
    total = await run_in_threadpool(svc.store.usage.charge, caller.subject, credits, caller.character_limit)
    if total is None:
        raise await _quota_exceeded(svc, caller, credits)
    try:
        admitted = await svc.admission.admit(caller, model.concurrency_group)
    except BaseException as error:
        await refund(svc, caller.subject, credits)
        if isinstance(error, Overloaded):
            raise ApiError(
                429, error.status, error.message, {"Retry-After": str(error.retry_after)}
            ) from None
        raise
    return Grant(caller.subject, credits, total, admitted)


async def refund(svc: Services, subject: str, credits: int) -> None:
    await run_in_threadpool(svc.store.usage.add, subject, -credits)


async def _quota_exceeded(svc: Services, caller: Caller, credits: int) -> ApiError:
    used = await run_in_threadpool(svc.store.usage.get, caller.subject)
    limit = caller.character_limit or 0
    return ApiError(
        401,
        "quota_exceeded",
        f"This request exceeds your quota of {limit}. You have {max(0, limit - used)} credits remaining, "
        f"while {credits} credits are required for this request.",
    )

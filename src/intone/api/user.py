"""The account behind the key: GET /v1/user and /v1/user/subscription.

Each API key is an account here: its character count is the credits it has used (kept in the store),
its limit is its quota. A key without a quota (and the local account of a server with auth off)
reports the largest 32-bit integer, so clients comparing count and limit never think they ran out.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from intone.accounts.caller import Caller
from intone.accounts.scopes import Scope
from intone.api.auth import require
from intone.api.errors import documented
from intone.api.state import Services, services

router = APIRouter(tags=["user"], responses=documented(401, 403))

ServicesDep = Annotated[Services, Depends(services)]
Reader = Annotated[Caller, Depends(require(Scope.USER_READ))]
UNLIMITED = 2**31 - 1


class Price(BaseModel):
    amount: str
    currency: str


class Subscription(BaseModel):
    tier: str
    character_count: int
    character_limit: int
    max_character_limit_extension: int | None
    max_credit_limit_extension: int | str
    can_extend_character_limit: bool
    allowed_to_extend_character_limit: bool
    next_character_count_reset_unix: int | None
    voice_slots_used: int
    professional_voice_slots_used: int
    professional_voice_slots_used_in_workspace: int
    voice_limit: int
    voice_add_edit_counter: int
    professional_voice_limit: int
    can_extend_voice_limit: bool
    can_use_instant_voice_cloning: bool
    can_use_professional_voice_cloning: bool
    currency: str | None
    current_overage: Price
    status: str
    billing_period: str | None
    character_refresh_period: str | None
    open_invoices: list[dict[str, object]]
    has_open_invoices: bool
    # Intone's own: seconds of audio transcribed (speech to text), counted apart from character credits.
    speech_to_text_seconds: float


class User(BaseModel):
    user_id: str
    workspace_id: str
    subscription: Subscription
    is_new_user: bool
    can_use_delayed_payment_methods: bool
    is_onboarding_completed: bool
    is_onboarding_checklist_completed: bool
    created_at: int
    seat_type: str
    first_name: str | None
    is_api_key_hashed: bool


async def _subscription(svc: Services, caller: Caller) -> Subscription:
    used = await run_in_threadpool(svc.store.usage.get, caller.subject)
    transcribed = await run_in_threadpool(svc.store.usage.transcribed, caller.subject)
    return Subscription(
        tier=caller.tier.name,
        character_count=used,
        character_limit=UNLIMITED if caller.character_limit is None else caller.character_limit,
        max_character_limit_extension=None,
        max_credit_limit_extension=0,
        can_extend_character_limit=False,
        allowed_to_extend_character_limit=False,
        next_character_count_reset_unix=None,
        voice_slots_used=0,
        professional_voice_slots_used=0,
        professional_voice_slots_used_in_workspace=0,
        voice_limit=0,
        voice_add_edit_counter=0,
        professional_voice_limit=0,
        can_extend_voice_limit=False,
        can_use_instant_voice_cloning=False,
        can_use_professional_voice_cloning=False,
        currency="usd",
        current_overage=Price(amount="0", currency="usd"),
        status="active",
        billing_period=None,
        character_refresh_period=None,
        open_invoices=[],
        has_open_invoices=False,
        speech_to_text_seconds=transcribed,
    )


@router.get("/v1/user/subscription", summary="Get user subscription")
async def subscription(svc: ServicesDep, caller: Reader) -> Subscription:
    return await _subscription(svc, caller)


@router.get("/v1/user", summary="Get user")
async def user(svc: ServicesDep, caller: Reader) -> User:
    created = caller.created_at or await run_in_threadpool(svc.store.installed_at)
    return User(
        user_id=caller.subject,
        workspace_id=caller.subject,
        subscription=await _subscription(svc, caller),
        is_new_user=False,
        can_use_delayed_payment_methods=False,
        is_onboarding_completed=True,
        is_onboarding_checklist_completed=True,
        created_at=int(created.timestamp()),
        seat_type="workspace_admin",
        first_name=caller.name,
        is_api_key_hashed=True,
    )

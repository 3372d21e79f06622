"""The account: GET /v1/user and /v1/user/subscription.

A server without API keys has one local account. Its character count is the real number of characters
this server has synthesized (kept in the store); there is no quota, which the limit reports as the
largest 32-bit integer so that clients comparing count and limit never think they ran out.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from intone.api.state import USAGE_SUBJECT, Services, services

router = APIRouter(tags=["user"])

ServicesDep = Annotated[Services, Depends(services)]
UNLIMITED = 2**31 - 1
LOCAL_USER_ID = "local"


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


async def _subscription(svc: Services) -> Subscription:
    used = await run_in_threadpool(svc.store.usage.get, USAGE_SUBJECT)
    return Subscription(
        tier="self_hosted",
        character_count=used,
        character_limit=UNLIMITED,
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
    )


@router.get("/v1/user/subscription", summary="Get user subscription")
async def subscription(svc: ServicesDep) -> Subscription:
    return await _subscription(svc)


def _set_up_at(svc: Services) -> int:
    """When this installation began: the data directory's creation, the nearest thing to a sign-up."""
    return int(svc.settings.data_dir.stat().st_ctime) if svc.settings.data_dir.exists() else 0


@router.get("/v1/user", summary="Get user")
async def user(svc: ServicesDep) -> User:
    return User(
        user_id=LOCAL_USER_ID,
        workspace_id=LOCAL_USER_ID,
        subscription=await _subscription(svc),
        is_new_user=False,
        can_use_delayed_payment_methods=False,
        is_onboarding_completed=True,
        is_onboarding_checklist_completed=True,
        created_at=_set_up_at(svc),
        seat_type="workspace_admin",
        first_name=None,
        is_api_key_hashed=True,
    )

"""The admin API for keys: create, list, get, change (disable, quota, tier) and delete.

Intone's own endpoints, under /admin; they need a key with the `admin` scope. A new key's secret is
in the creation response only: it is stored hashed and cannot be shown again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, field_validator

from intone.accounts.caller import Caller
from intone.accounts.scopes import Scope, parse_scopes
from intone.accounts.tiers import DEFAULT_TIER, TIERS, get_tier
from intone.api.auth import require
from intone.api.errors import ApiError, documented
from intone.api.state import Services, services
from intone.store.keys import CHARACTER_LIMIT_MAX, ApiKey, KeyChanges
from intone.store.strings import storable

router = APIRouter(tags=["admin"], responses=documented(400, 401, 403, 404))

Admin = Annotated[Caller, Depends(require(Scope.ADMIN))]
ServicesDep = Annotated[Services, Depends(services)]


class KeyInfo(BaseModel):
    key_id: str
    name: str
    hint: str
    scopes: list[str]
    character_limit: int | None
    character_count: int
    tier: str
    disabled: bool
    created_at: datetime


class NewKey(KeyInfo):
    api_key: str = Field(description="The secret. Shown once: only its hash is kept.")


class KeyList(BaseModel):
    keys: list[KeyInfo]


def _tier(name: str | None) -> str | None:
    if name is not None:
        get_tier(name)
    return name


def _name(name: str | None) -> str | None:
    if name is not None and not storable(name):
        raise ValueError("must not hold NUL or half of a UTF-16 surrogate pair")
    return name


class CreateKey(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] | None = Field(default=None, description="Default: every scope but admin.")
    character_limit: int | None = Field(
        default=None, ge=0, le=CHARACTER_LIMIT_MAX, description="Credit quota; none when absent."
    )
    tier: str = Field(default=DEFAULT_TIER, description=f"One of: {', '.join(TIERS)}.")

    _check_name = field_validator("name")(_name)
    _check_tier = field_validator("tier")(_tier)

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, names: list[str] | None) -> list[str] | None:
        parse_scopes(names)
        return names


class ChangeKey(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    disabled: bool | None = None
    character_limit: int | None = Field(
        default=None, ge=0, le=CHARACTER_LIMIT_MAX, description="null removes the quota."
    )
    tier: str | None = None

    _check_name = field_validator("name")(_name)
    _check_tier = field_validator("tier")(_tier)


def _info(key: ApiKey, used: int) -> dict[str, object]:
    return {
        "key_id": key.key_id,
        "name": key.name,
        "hint": key.hint,
        "scopes": sorted(key.scopes),
        "character_limit": key.character_limit,
        "character_count": used,
        "tier": key.tier,
        "disabled": key.disabled,
        "created_at": key.created_at,
    }


def _not_found(key_id: str) -> ApiError:
    return ApiError(404, "api_key_not_found", f"There is no API key with id {key_id!r}.")


async def _found(svc: Services, key: ApiKey | None, key_id: str) -> KeyInfo:
    if key is None:
        raise _not_found(key_id)
    used = await run_in_threadpool(svc.store.usage.get, key.key_id)
    return KeyInfo.model_validate(_info(key, used))


@router.post("/admin/keys", status_code=201, summary="Create an API key")
async def create_key(body: CreateKey, _: Admin, svc: ServicesDep) -> NewKey:
    scopes = parse_scopes(body.scopes)
    key, secret = await run_in_threadpool(
        svc.store.keys.create, body.name, scopes, body.character_limit, body.tier
    )
    return NewKey.model_validate({**_info(key, 0), "api_key": secret})


@router.get("/admin/keys", summary="List the API keys")
async def list_keys(_: Admin, svc: ServicesDep) -> KeyList:
    keys = await run_in_threadpool(svc.store.keys.list)
    return KeyList(keys=[await _found(svc, key, key.key_id) for key in keys])


@router.get("/admin/keys/{key_id}", summary="Get an API key")
async def get_key(key_id: str, _: Admin, svc: ServicesDep) -> KeyInfo:
    return await _found(svc, await run_in_threadpool(svc.store.keys.get, key_id), key_id)


@router.patch("/admin/keys/{key_id}", summary="Change an API key")
async def change_key(key_id: str, body: ChangeKey, _: Admin, svc: ServicesDep) -> KeyInfo:
    changes = KeyChanges(**body.model_dump(exclude_unset=True))  # type: ignore[typeddict-item]
    return await _found(svc, await run_in_threadpool(svc.store.keys.update, key_id, changes), key_id)


@router.delete("/admin/keys/{key_id}", summary="Delete an API key")
async def delete_key(key_id: str, _: Admin, svc: ServicesDep) -> dict[str, str]:
    if not await run_in_threadpool(svc.store.keys.delete, key_id):
        raise _not_found(key_id)
    return {"status": "ok"}

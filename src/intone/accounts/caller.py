"""The caller of a request: the key it came with (or the local account when auth is off)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from intone.accounts.scopes import Scope, grants
from intone.accounts.tiers import Tier

LOCAL_SUBJECT = "local"  # the one account of a server running with authentication off


@dataclass(frozen=True)
class Caller:
    subject: str  # the key id: usage, quota, history and concurrency are counted per subject
    name: str
    scopes: frozenset[Scope]
    tier: Tier
    character_limit: int | None  # None: no quota
    created_at: datetime | None = None

    def may(self, scope: Scope) -> bool:
        return grants(self.scopes, scope)

"""Keys that held every scope of their day (the default set, as most keys are made) get the new
`speech_to_text` scope, so an upgrade does not lock existing users out of speech to text; keys whose
creator chose fewer scopes keep exactly those.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every scope but admin before speech to text existed (frozen here: the code's set will grow again).
_FORMER_DEFAULT = {
    "text_to_speech",
    "voices_read",
    "voices_write",
    "models_read",
    "user_read",
    "history_read",
    "history_write",
    "pronunciation_dictionaries_read",
    "pronunciation_dictionaries_write",
}
_NEW = "speech_to_text"
_KEYS = sa.table("api_keys", sa.column("key_id", sa.String()), sa.column("scopes", sa.JSON()))


def upgrade() -> None:
    _rewrite(lambda scopes: sorted({*scopes, _NEW}) if set(scopes) >= _FORMER_DEFAULT else scopes)


def downgrade() -> None:
    _rewrite(lambda scopes: [scope for scope in scopes if scope != _NEW])


def _rewrite(change: Callable[[list[str]], list[str]]) -> None:
    bind = op.get_bind()
    for key_id, scopes in bind.execute(sa.select(_KEYS.c.key_id, _KEYS.c.scopes)).all():
        changed = change(scopes)
        if changed != scopes:
            bind.execute(_KEYS.update().where(_KEYS.c.key_id == key_id).values(scopes=changed))

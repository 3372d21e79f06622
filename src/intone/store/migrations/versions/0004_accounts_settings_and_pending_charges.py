"""Voice settings per account, and pending charges.

Voice settings were one row per voice, shared by every key; now each account (a key, or the local
account of a server running with auth off) keeps its own, keyed by (owner, voice_id). Rows saved before
are copied to every key that exists now and to the local account: until this migration every one of
them spoke with those settings, so none hears a difference after the upgrade, and each may then change
its copy alone. Keys created later start from the premade defaults. Downgrading keeps, per voice, the
most recently saved account's settings, as the single shared row would have held the last edit.

`pending_charges` holds the credits of requests still running, so that those of a process killed
mid-request can be given back (store/charges.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# intone.accounts.caller.LOCAL_SUBJECT, written out: a migration must not change when the code does.
_LOCAL_SUBJECT = "local"


def _settings_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("stability", sa.Float(), nullable=True),
        sa.Column("similarity_boost", sa.Float(), nullable=True),
        sa.Column("style", sa.Float(), nullable=True),
        sa.Column("use_speaker_boost", sa.Boolean(), nullable=True),
        sa.Column("speed", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _rows(*keys: str) -> list[dict[str, Any]]:
    """The stored settings rows, with `keys` and the settings columns (typed, so values read back as
    they are written: SQLite keeps dates and booleans as text and integers)."""
    columns = [sa.column(name, sa.String()) for name in keys]
    columns += [sa.column(column.name, column.type) for column in _settings_columns()]
    query = sa.select(*columns).select_from(sa.table("voice_settings"))
    return [dict(row) for row in op.get_bind().execute(query).mappings()]


def upgrade() -> None:
    # A few dozen rows at most (one per voice), so they are read out and the table is built anew: the
    # primary key changes, which SQLite cannot ALTER and PostgreSQL would need renamed constraints for.
    shared = _rows("voice_id")
    keys = op.get_bind().execute(sa.text("SELECT key_id FROM api_keys")).scalars().all()
    op.drop_table("voice_settings")
    table = op.create_table(
        "voice_settings",
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("voice_id", sa.String(), nullable=False),
        *_settings_columns(),
        sa.PrimaryKeyConstraint("owner", "voice_id", name="pk_voice_settings"),
    )
    copies = [row | {"owner": owner} for owner in [_LOCAL_SUBJECT, *keys] for row in shared]
    if copies:
        op.bulk_insert(table, copies)
    op.create_table(
        "pending_charges",
        sa.Column("charge_id", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("charge_id", name="pk_pending_charges"),
    )
    op.create_index("ix_pending_charges_holder", "pending_charges", ["holder"])
    op.create_index("ix_pending_charges_expires_at", "pending_charges", ["expires_at"])


def downgrade() -> None:
    # Credits still pending stay charged: the older version has no way to give them back.
    op.drop_index("ix_pending_charges_expires_at", "pending_charges")
    op.drop_index("ix_pending_charges_holder", "pending_charges")
    op.drop_table("pending_charges")
    latest: dict[str, dict[str, Any]] = {}
    for row in sorted(_rows("owner", "voice_id"), key=lambda r: (r["updated_at"], r["owner"])):
        latest[row["voice_id"]] = {name: value for name, value in row.items() if name != "owner"}
    op.drop_table("voice_settings")
    table = op.create_table(
        "voice_settings",
        sa.Column("voice_id", sa.String(), nullable=False),
        *_settings_columns(),
        sa.PrimaryKeyConstraint("voice_id", name="pk_voice_settings"),
    )
    if latest:
        op.bulk_insert(table, list(latest.values()))

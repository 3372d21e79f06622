"""History indexes: an owner's items in date order, and a partial one over those still holding audio.

They replace the single-column indexes on owner (the composite's first column) and on created_at (never
read without an owner), so listing and pruning no longer read every item an owner ever made.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ["owner", "created_at", "history_item_id"]
_KEPT = sa.text("audio IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_history_owner_created_at", "history", _COLUMNS)
    op.create_index("ix_history_kept_audio", "history", _COLUMNS, sqlite_where=_KEPT, postgresql_where=_KEPT)
    op.drop_index("ix_history_owner", "history")
    op.drop_index("ix_history_created_at", "history")


def downgrade() -> None:
    op.create_index("ix_history_created_at", "history", ["created_at"])
    op.create_index("ix_history_owner", "history", ["owner"])
    op.drop_index("ix_history_kept_audio", "history")
    op.drop_index("ix_history_owner_created_at", "history")

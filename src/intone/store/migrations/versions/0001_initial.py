"""Initial schema: saved voice settings and character usage.

Revision ID: 0001
Revises:
Create Date: 2026-05-09
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "voice_settings",
        sa.Column("voice_id", sa.String(), nullable=False),
        sa.Column("stability", sa.Float(), nullable=True),
        sa.Column("similarity_boost", sa.Float(), nullable=True),
        sa.Column("style", sa.Float(), nullable=True),
        sa.Column("use_speaker_boost", sa.Boolean(), nullable=True),
        sa.Column("speed", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("voice_id", name="pk_voice_settings"),
    )
    op.create_table(
        "usage",
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("characters", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject", name="pk_usage"),
    )


def downgrade() -> None:
    op.drop_table("usage")
    op.drop_table("voice_settings")

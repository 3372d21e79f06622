"""Accounts: API keys, single-use tokens, the generation history, and when this database was made.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("secret_hash", sa.String(), nullable=False),
        sa.Column("hint", sa.String(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("character_limit", sa.BigInteger(), nullable=True),
        sa.Column("tier", sa.String(), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name="pk_api_keys"),
        sa.UniqueConstraint("secret_hash", name="uq_api_keys_secret_hash"),
    )
    op.create_table(
        "single_use_tokens",
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("key_id", sa.String(), nullable=False),
        sa.Column("token_type", sa.String(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_single_use_tokens"),
    )
    op.create_index("ix_single_use_tokens_expires_at", "single_use_tokens", ["expires_at"])
    op.create_table(
        "history",
        sa.Column("history_item_id", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("voice_id", sa.String(), nullable=False),
        sa.Column("voice_name", sa.String(), nullable=False),
        sa.Column("voice_category", sa.String(), nullable=False),
        sa.Column("model_id", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("characters", sa.Integer(), nullable=False),
        sa.Column("character_count_change_from", sa.BigInteger(), nullable=False),
        sa.Column("character_count_change_to", sa.BigInteger(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("output_format", sa.String(), nullable=False),
        sa.Column("content_type", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("audio", sa.LargeBinary(), nullable=True),
        sa.Column("audio_size", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("history_item_id", name="pk_history"),
    )
    op.create_index("ix_history_owner", "history", ["owner"])
    op.create_index("ix_history_request_id", "history", ["request_id"])
    op.create_index("ix_history_created_at", "history", ["created_at"])
    installation = op.create_table(
        "installation",
        sa.Column("installation_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("installation_id", name="pk_installation"),
    )
    op.bulk_insert(installation, [{"installation_id": 1, "created_at": datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table("installation")
    op.drop_table("history")
    op.drop_table("single_use_tokens")
    op.drop_table("api_keys")

"""Pronunciation dictionaries: each account's dictionaries, and every version of their rules.

A version is written once and kept: requests may pin one by id (`version_id` in a locator), so a change
of the rules makes a new version rather than editing the old. Downgrading drops both tables, and with
them every dictionary: the older version cannot hold them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dictionaries",
        sa.Column("dictionary_id", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("latest_version_id", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("dictionary_id", name="pk_dictionaries"),
    )
    op.create_index(
        "ix_dictionaries_owner_created_at", "dictionaries", ["owner", "created_at", "dictionary_id"]
    )
    op.create_table(
        "dictionary_versions",
        sa.Column("version_id", sa.String(), nullable=False),
        sa.Column("dictionary_id", sa.String(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("rules_num", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dictionary_id"],
            ["dictionaries.dictionary_id"],
            name="fk_dictionary_versions_dictionary_id_dictionaries",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", name="pk_dictionary_versions"),
    )
    op.create_index("ix_dictionary_versions_dictionary_id", "dictionary_versions", ["dictionary_id"])


def downgrade() -> None:
    op.drop_index("ix_dictionary_versions_dictionary_id", "dictionary_versions")
    op.drop_table("dictionary_versions")
    op.drop_index("ix_dictionaries_owner_created_at", "dictionaries")
    op.drop_table("dictionaries")

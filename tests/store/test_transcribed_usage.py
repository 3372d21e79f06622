"""Usage counts transcribed audio (speech to text) apart from characters; migration 0006 adds it."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from intone.store.database import Store
from intone.store.tables import Base
from tests.store.migrating import migrate


def test_transcribed_seconds_add_up_apart_from_characters(store: Store):
    store.usage.add("alice", 120)
    assert store.usage.add_transcribed("alice", 2.9996) == 3.0
    assert store.usage.add_transcribed("alice", 1.25) == 4.25
    assert store.usage.add_transcribed("bob", 0.5) == 0.5
    assert (store.usage.get("alice"), store.usage.transcribed("alice")) == (120, 4.25)
    assert (store.usage.get("bob"), store.usage.transcribed("carol")) == (0, 0.0)


def test_migration_0006_keeps_every_count_and_goes_back(database_url: str):
    store = Store(database_url)
    migrate(store, command.upgrade, "0005")
    store.usage.add("alice", 42)
    migrate(store, command.upgrade, "head")
    with store._engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    assert (store.usage.get("alice"), store.usage.transcribed("alice")) == (42, 0.0)
    store.usage.add_transcribed("alice", 3.5)
    migrate(store, command.downgrade, "0005")
    assert "transcribed_ms" not in {c["name"] for c in sa.inspect(store._engine).get_columns("usage")}
    assert store.usage.get("alice") == 42
    store.close()

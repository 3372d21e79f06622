"""Migration 0004 on SQLite and PostgreSQL: voice settings saved when they were one set for everyone
become every existing account's own, and a downgrade keeps the latest edit of each voice."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from intone.accounts.caller import LOCAL_SUBJECT
from intone.accounts.scopes import DEFAULT_SCOPES
from intone.store.database import Store
from tests.store.migrating import migrate

SAVED = {"stability": 0.3, "similarity_boost": None, "style": 0.1, "use_speaker_boost": False, "speed": 1.1}
# The table as revision 0003 had it: one row per voice.
SHARED = sa.table(
    "voice_settings",
    sa.column("voice_id", sa.String()),
    sa.column("stability", sa.Float()),
    sa.column("similarity_boost", sa.Float()),
    sa.column("style", sa.Float()),
    sa.column("use_speaker_boost", sa.Boolean()),
    sa.column("speed", sa.Float()),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def _shared_rows(store: Store) -> dict[str, dict[str, object]]:
    with store._engine.connect() as conn:
        rows = conn.execute(sa.select(SHARED)).mappings().all()
    return {row["voice_id"]: {name: row[name] for name in SAVED} for row in rows}


def test_settings_saved_before_become_each_existing_accounts_own(database_url: str) -> None:
    store = Store(database_url)
    migrate(store, command.upgrade, "0003")
    first, _ = store.keys.create("first", DEFAULT_SCOPES, None, "pro")
    second, _ = store.keys.create("second", DEFAULT_SCOPES, None, "pro")
    with store._engine.begin() as conn:
        conn.execute(sa.insert(SHARED).values(voice_id="george", updated_at=datetime.now(UTC), **SAVED))

    store.migrate()
    for owner in (first.key_id, second.key_id, LOCAL_SUBJECT):
        assert store.voice_settings.get(owner, "george") == SAVED
        assert store.voice_settings.get(owner, "rachel") is None
    later, _ = store.keys.create("later", DEFAULT_SCOPES, None, "pro")
    assert store.voice_settings.get(later.key_id, "george") is None  # starts from the defaults
    # Each copy is its own now.
    store.voice_settings.merge(first.key_id, "george", {"speed": 0.8})
    assert store.voice_settings.get(second.key_id, "george") == SAVED

    migrate(store, command.downgrade, "0003")
    assert _shared_rows(store) == {"george": SAVED | {"speed": 0.8}}  # the latest edit
    migrate(store, command.upgrade, "head")
    assert store.voice_settings.get(second.key_id, "george") == SAVED | {"speed": 0.8}
    store.close()

"""Migration 0007: keys that held every scope before speech to text existed get it; others keep theirs."""

from __future__ import annotations

from alembic import command

from intone.accounts.scopes import DEFAULT_SCOPES, Scope
from intone.store.database import Store
from tests.store.migrating import migrate

FORMER_DEFAULT = DEFAULT_SCOPES - {Scope.SPEECH_TO_TEXT}


def test_default_keys_gain_speech_to_text_and_chosen_scopes_stay(database_url: str):
    store = Store(database_url)
    migrate(store, command.upgrade, "0006")
    full, _ = store.keys.create("full", FORMER_DEFAULT, None, "free")
    admin, _ = store.keys.create("admin", FORMER_DEFAULT | {Scope.ADMIN}, None, "free")
    narrow, _ = store.keys.create("narrow", frozenset({Scope.TEXT_TO_SPEECH}), None, "free")
    migrate(store, command.upgrade, "head")
    assert store.keys.get(full.key_id).scopes == DEFAULT_SCOPES
    assert store.keys.get(admin.key_id).scopes == DEFAULT_SCOPES | {Scope.ADMIN}
    assert store.keys.get(narrow.key_id).scopes == {Scope.TEXT_TO_SPEECH}
    migrate(store, command.downgrade, "0006")
    assert store.keys.get(full.key_id).scopes == FORMER_DEFAULT
    assert store.keys.get(narrow.key_id).scopes == {Scope.TEXT_TO_SPEECH}
    store.close()

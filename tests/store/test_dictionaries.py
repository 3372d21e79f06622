"""Pronunciation dictionaries in the store, on SQLite and PostgreSQL: versions are kept, owners are kept
apart, listings page, concurrent revisions all count, and migration 0005 goes up and down."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from intone.speech.lexicon import AliasRule, PhonemeRule
from intone.store.database import Store
from intone.store.dictionaries import DictionaryQuery, UnknownCursor
from intone.store.tables import Base
from tests.store.migrating import migrate

RULES = (
    AliasRule("UN", "United Nations"),
    PhonemeRule("tomato", "təˈmɑːtəʊ", "ipa", case_sensitive=False),
    PhonemeRule("talon", "T AE1 L AH0 N", "cmu-arpabet", word_boundaries=False),
)


def test_a_dictionary_keeps_its_rules_and_who_made_it(store: Store):
    made = store.dictionaries.create("alice", "Brands", "names we sell", RULES)
    assert (made.name, made.description, made.owner, made.latest_rules_num) == (
        "Brands",
        "names we sell",
        "alice",
        3,
    )
    assert len(made.dictionary_id) == len(made.latest_version_id) == 20
    assert made.dictionary_id.isalnum() and made.dictionary_id != made.latest_version_id
    assert abs((datetime.now(UTC) - made.created_at).total_seconds()) < 60
    assert store.dictionaries.get("alice", made.dictionary_id) == made
    latest = store.dictionaries.version("alice", made.dictionary_id)
    assert latest is not None and latest.rules == RULES and latest.version_id == made.latest_version_id
    assert store.dictionaries.version("alice", made.dictionary_id, made.latest_version_id) == latest


def test_another_owner_finds_nothing_and_changes_nothing(store: Store):
    made = store.dictionaries.create("alice", "Brands", None, RULES)
    mine = made.dictionary_id
    assert store.dictionaries.get("bob", mine) is None
    assert store.dictionaries.version("bob", mine) is None
    assert store.dictionaries.version("bob", mine, made.latest_version_id) is None
    assert store.dictionaries.update("bob", mine, name="Stolen", archived=True) is None
    assert store.dictionaries.revise("bob", mine, lambda rules: ()) is None
    assert store.dictionaries.page("bob", DictionaryQuery()).dictionaries == []
    with pytest.raises(UnknownCursor):
        store.dictionaries.page("bob", DictionaryQuery(cursor=mine))
    assert store.dictionaries.get("alice", mine) == made  # untouched
    assert store.dictionaries.version("alice", mine).rules == RULES


def test_a_version_of_another_dictionary_is_not_this_ones(store: Store):
    first = store.dictionaries.create("alice", "first", None, RULES[:1])
    second = store.dictionaries.create("alice", "second", None, RULES[1:])
    assert store.dictionaries.version("alice", first.dictionary_id, second.latest_version_id) is None


@pytest.mark.parametrize("bad", ["nul\0", "half \ud800 pair"])
def test_ids_no_database_can_hold_find_nothing(store: Store, bad: str):
    made = store.dictionaries.create("alice", "Brands", None, RULES)
    assert store.dictionaries.get("alice", bad) is None
    assert store.dictionaries.version("alice", bad) is None
    assert store.dictionaries.version("alice", made.dictionary_id, bad) is None
    assert store.dictionaries.update("alice", bad, name="x") is None
    assert store.dictionaries.revise("alice", bad, lambda rules: rules) is None
    with pytest.raises(UnknownCursor):
        store.dictionaries.page("alice", DictionaryQuery(cursor=bad))


def test_each_revision_is_a_new_version_and_the_old_ones_stay(store: Store):
    made = store.dictionaries.create("alice", "Brands", None, RULES)
    added = store.dictionaries.revise("alice", made.dictionary_id, lambda r: (*r, AliasRule("AI", "A I")))
    assert added is not None and len(added.rules) == 4
    emptied = store.dictionaries.revise("alice", made.dictionary_id, lambda rules: ())
    assert emptied is not None and emptied.rules == ()
    assert len({made.latest_version_id, added.version_id, emptied.version_id}) == 3
    assert store.dictionaries.version("alice", made.dictionary_id, made.latest_version_id).rules == RULES
    assert store.dictionaries.version("alice", made.dictionary_id, added.version_id).rules == added.rules
    assert store.dictionaries.version("alice", made.dictionary_id).version_id == emptied.version_id
    now = store.dictionaries.get("alice", made.dictionary_id)
    assert (now.latest_version_id, now.latest_rules_num) == (emptied.version_id, 0)


def test_a_failed_revision_writes_nothing(store: Store):
    made = store.dictionaries.create("alice", "Brands", None, RULES)

    def refuse(rules):
        raise ValueError("too many")

    with pytest.raises(ValueError, match="too many"):
        store.dictionaries.revise("alice", made.dictionary_id, refuse)
    assert store.dictionaries.get("alice", made.dictionary_id) == made


def test_concurrent_revisions_all_count(store: Store):
    made = store.dictionaries.create("alice", "Brands", None, ())
    start = threading.Barrier(6)
    failures: list[BaseException] = []

    def add(word: str) -> None:
        start.wait()
        try:
            store.dictionaries.revise(
                "alice", made.dictionary_id, lambda rules: (*rules, AliasRule(word, word))
            )
        except BaseException as error:  # reported below: a thread's exception would vanish
            failures.append(error)

    threads = [threading.Thread(target=add, args=(f"word{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    latest = store.dictionaries.version("alice", made.dictionary_id)
    assert sorted(rule.string_to_replace for rule in latest.rules) == [f"word{n}" for n in range(6)]


def test_rename_archive_and_restore(store: Store):
    made = store.dictionaries.create("alice", "Brands", None, RULES)
    renamed = store.dictionaries.update("alice", made.dictionary_id, name="Products")
    assert renamed.name == "Products" and renamed.archived_at is None
    assert renamed.latest_version_id == made.latest_version_id  # the rules' version is unchanged
    archived = store.dictionaries.update("alice", made.dictionary_id, archived=True)
    assert archived.archived_at is not None and archived.name == "Products"
    again = store.dictionaries.update("alice", made.dictionary_id, archived=True)
    assert again.archived_at == archived.archived_at  # the first archive time stays
    assert store.dictionaries.update("alice", made.dictionary_id, archived=False).archived_at is None
    assert store.dictionaries.update("alice", made.dictionary_id) == store.dictionaries.get(
        "alice", made.dictionary_id
    )


def _names(store: Store, query: DictionaryQuery) -> tuple[list[str], bool]:
    page = store.dictionaries.page("alice", query)
    return [dictionary.name for dictionary in page.dictionaries], page.has_more


def _all_pages(store: Store, query: DictionaryQuery) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = store.dictionaries.page("alice", replace(query, cursor=cursor))
        pages.append([dictionary.name for dictionary in page.dictionaries])
        if not page.has_more:
            return pages
        cursor = page.dictionaries[-1].dictionary_id


def test_listings_page_by_date_or_name_either_way(store: Store):
    for name in ["delta", "alpha", "echo", "charlie", "bravo"]:  # made in this order
        store.dictionaries.create("alice", name, None, ())
    store.dictionaries.create("bob", "zulu", None, ())
    newest_first = [["bravo", "charlie"], ["echo", "alpha"], ["delta"]]
    assert _all_pages(store, DictionaryQuery(page_size=2)) == newest_first
    assert _all_pages(store, DictionaryQuery(page_size=2, ascending=True)) == [
        ["delta", "alpha"],
        ["echo", "charlie"],
        ["bravo"],
    ]
    assert _all_pages(store, DictionaryQuery(page_size=3, by_name=True, ascending=True)) == [
        ["alpha", "bravo", "charlie"],
        ["delta", "echo"],
    ]
    assert _all_pages(store, DictionaryQuery(page_size=5, by_name=True)) == [
        ["echo", "delta", "charlie", "bravo", "alpha"]
    ]


def test_archived_dictionaries_are_listed_only_when_asked_for(store: Store):
    kept = store.dictionaries.create("alice", "kept", None, ())
    gone = store.dictionaries.create("alice", "gone", None, ())
    store.dictionaries.update("alice", gone.dictionary_id, archived=True)
    assert _names(store, DictionaryQuery()) == (["kept"], False)
    assert _names(store, DictionaryQuery(include_archived=True)) == (["gone", "kept"], False)
    # A cursor that is archived now still marks where the page ended.
    after = DictionaryQuery(cursor=gone.dictionary_id, include_archived=False)
    assert _names(store, after) == (["kept"], False)
    assert store.dictionaries.version("alice", gone.dictionary_id) is not None  # still usable
    assert kept.archived_at is None


def test_migration_0005_adds_the_tables_and_takes_them_away(database_url: str):
    store = Store(database_url)
    migrate(store, command.upgrade, "0004")
    assert "dictionaries" not in sa.inspect(store._engine).get_table_names()
    store.migrate()
    with store._engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == "0007"
        # The hand-written migration builds exactly what the models describe.
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    made = store.dictionaries.create("alice", "Brands", None, RULES)
    assert store.dictionaries.version("alice", made.dictionary_id).rules == RULES
    migrate(store, command.downgrade, "0004")
    tables = sa.inspect(store._engine).get_table_names()
    assert "dictionaries" not in tables and "dictionary_versions" not in tables
    migrate(store, command.upgrade, "head")
    assert store.dictionaries.get("alice", made.dictionary_id) is None
    store.close()

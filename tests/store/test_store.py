"""Tests for the SQL store: migrations, voice settings, usage counting, and SQLite file handling."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, create_engine, inspect, text

from intone.store.database import Store
from intone.store.tables import Base


def url_for(path: Path) -> str:
    return f"sqlite:///{path}"


def test_fresh_database_migrates_to_head(database_url: str) -> None:
    store = Store(database_url)
    store.migrate()
    store.migrate()  # a second start finds nothing to do
    store.close()

    engine = create_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == ["0007"]
        # The hand-written migration builds exactly what the models describe.
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        # ...except for what Alembic does not compare: the WHERE of partial indexes.
        partial = {"ix_history_kept_audio": "audio IS NOT NULL"}
        assert _reflected_wheres(conn) == _modelled_wheres(conn.dialect.name) == partial
    engine.dispose()


def _reflected_wheres(conn: Connection) -> dict[str, str]:
    """The WHERE of each partial index in the database."""
    option = f"{conn.dialect.name}_where"
    return {
        index["name"]: str(index["dialect_options"][option]).strip("()")  # PostgreSQL adds parentheses
        for table in Base.metadata.tables
        for index in inspect(conn).get_indexes(table)
        if option in index.get("dialect_options", {})
    }


def _modelled_wheres(dialect: str) -> dict[str, str]:
    """The WHERE of each partial index the models describe for the dialect."""
    return {
        index.name: str(index.dialect_options[dialect]["where"])
        for table in Base.metadata.tables.values()
        for index in table.indexes
        if index.dialect_options[dialect]["where"] is not None
    }


def test_sqlite_connections_are_tuned(tmp_path: Path) -> None:
    store = Store(url_for(tmp_path / "intone.db"))
    with store._engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 5000
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    store.close()


def test_in_memory_database_migrates() -> None:
    store = Store("sqlite://")
    store.migrate()
    store.usage.add("memory", 3)
    assert store.usage.get("memory") == 3
    store.close()


def test_two_processes_migrating_at_once(tmp_path: Path) -> None:
    url = url_for(tmp_path / "intone.db")
    # Each process reports once its imports are done and migrates on "go", so the two really overlap.
    script = (
        f"import sys; from intone.store.database import Store; store = Store({url!r}); "
        "print('ready', flush=True); sys.stdin.readline(); store.migrate(); store.close()"
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for run in runs:
        assert run.stdout is not None
        assert run.stdout.readline() == "ready\n"
    for run in runs:
        assert run.stdin is not None
        run.stdin.write("go\n")
        run.stdin.flush()
    for run in runs:
        _, stderr = run.communicate(timeout=30)
        assert run.returncode == 0, stderr
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == ["0007"]
    engine.dispose()


def test_voice_settings_round_trip(store: Store) -> None:
    values = {
        "stability": 0.4,
        "similarity_boost": 0.8,
        "style": 0.1,
        "use_speaker_boost": True,
        "speed": 1.1,
    }
    store.voice_settings.save("alice", "joe", values)
    assert store.voice_settings.get("alice", "joe") == values

    store.voice_settings.save("alice", "joe", {"stability": 0.9, "use_speaker_boost": False})
    assert store.voice_settings.get("alice", "joe") == {
        "stability": 0.9,
        "similarity_boost": None,
        "style": None,
        "use_speaker_boost": False,
        "speed": None,
    }


def test_voice_settings_of_unknown_voice_are_none(store: Store) -> None:
    assert store.voice_settings.get("alice", "nobody") is None


def test_voice_settings_of_many_voices_at_once(store: Store) -> None:
    store.voice_settings.save("alice", "joe", {"stability": 0.3})
    store.voice_settings.save("alice", "ann", {"speed": 0.9})
    store.voice_settings.save("bob", "nobody", {"speed": 0.9})
    many = store.voice_settings.get_many("alice", ["joe", "ann", "nobody"])
    get = store.voice_settings.get
    assert many == {"joe": get("alice", "joe"), "ann": get("alice", "ann")}
    assert store.voice_settings.get_many("alice", []) == {}


def test_voice_settings_reject_unknown_fields(store: Store) -> None:
    with pytest.raises(ValueError, match="stabilty"):
        store.voice_settings.save("alice", "joe", {"stabilty": 0.5})


def test_usage_add_and_get(store: Store) -> None:
    assert store.usage.get("alice") == 0
    assert store.usage.add("alice", 10) == 10
    assert store.usage.add("alice", 5) == 15
    assert store.usage.get("alice") == 15
    assert store.usage.get("bob") == 0


def test_concurrent_usage_adds_are_not_lost(store: Store) -> None:
    start = threading.Barrier(20)
    errors: list[BaseException] = []

    def add_many() -> None:
        start.wait()
        try:
            for _ in range(50):
                store.usage.add("shared", 1)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=add_many) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.usage.get("shared") == 1000


def test_data_survives_reopening(tmp_path: Path) -> None:
    url = url_for(tmp_path / "intone.db")
    store = Store(url)
    store.migrate()
    store.usage.add("alice", 7)
    store.voice_settings.save("alice", "joe", {"speed": 1.2})
    store.close()

    reopened = Store(url)
    reopened.migrate()
    assert reopened.usage.get("alice") == 7
    assert reopened.voice_settings.get("alice", "joe") == {
        "stability": None,
        "similarity_boost": None,
        "style": None,
        "use_speaker_boost": None,
        "speed": 1.2,
    }
    reopened.close()


def test_missing_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there" / "intone.db"
    store = Store(url_for(path))
    store.migrate()
    store.close()
    assert path.is_file()


def test_merge_keeps_the_fields_it_is_not_given(store: Store) -> None:
    store.voice_settings.merge("alice", "v", {"stability": 0.2})
    store.voice_settings.merge("alice", "v", {"speed": 1.1, "stability": None})
    assert store.voice_settings.get("alice", "v") == {
        "stability": 0.2,
        "similarity_boost": None,
        "style": None,
        "use_speaker_boost": None,
        "speed": 1.1,
    }


def test_concurrent_merges_of_different_fields_both_stay(store: Store) -> None:
    fields = ["stability", "similarity_boost", "style", "speed"]
    threads = [
        threading.Thread(target=store.voice_settings.merge, args=("alice", "v", {field: 0.9}))
        for field in fields
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = store.voice_settings.get("alice", "v")
    assert stored is not None
    assert all(stored[field] == 0.9 for field in fields)


def test_in_memory_database_is_shared_by_threads() -> None:
    memory = Store("sqlite://")
    memory.migrate()
    added: list[int] = []
    worker = threading.Thread(target=lambda: added.append(memory.usage.add("x", 5)))
    worker.start()
    worker.join()
    assert added == [5]
    assert memory.usage.get("x") == 5
    memory.close()

"""The data directory and the database (history text and audio, key names and hashes) are readable by
their owner only: made so, and tightened on an install from before."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from intone.accounts.scopes import DEFAULT_SCOPES
from intone.app import create_app
from intone.config import Settings
from intone.store.database import Store

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask most systems start users with, under which new files are 0644 and directories 0755."""
    saved = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(saved)


def test_a_new_data_directory_and_database_are_private(tmp_path: Path):
    data = tmp_path / "new" / "intone"
    with TestClient(create_app(Settings(data_dir=data, warm_up=False, database_url=None))) as client:
        client.app.state.services.store.keys.create("test", DEFAULT_SCOPES, None, "pro")  # a write: WAL
        files = {path.name: _mode(path) for path in data.glob("intone.db*")}
        assert _mode(data) == 0o700
    assert {"intone.db", "intone.db-wal", "intone.db-shm"} <= files.keys()
    assert set(files.values()) == {0o600}, files


def test_a_new_store_makes_its_directory_and_database_private(tmp_path: Path):
    data = tmp_path / "intone"
    store = Store(f"sqlite:///{data / 'intone.db'}")
    store.migrate()
    store.close()
    assert _mode(data) == 0o700
    assert _mode(data / "intone.db") == 0o600


def test_an_install_from_before_is_tightened_at_start_up(tmp_path: Path):
    data = tmp_path / "intone"
    data.mkdir(mode=0o755)
    database = data / "intone.db"
    store = Store(f"sqlite:///{database}")
    store.migrate()
    store.close()
    leftovers = [data / "intone.db-wal", data / "intone.db-shm"]  # as a killed server leaves them
    for path in [data, database, *leftovers]:
        path.touch()
        path.chmod(0o755 if path == data else 0o644)

    with TestClient(create_app(Settings(data_dir=data, warm_up=False, database_url=None))):
        assert _mode(data) == 0o700
        assert _mode(database) == 0o600
        assert [_mode(path) for path in leftovers if path.exists()] == [0o600] * 2


def test_a_database_placed_elsewhere_keeps_its_directory_as_it_is(tmp_path: Path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    Store(f"sqlite:///{shared / 'intone.db'}").close()
    assert _mode(shared) == 0o755  # the operator's directory, perhaps shared: not Intone's to change
    assert _mode(shared / "intone.db") == 0o600

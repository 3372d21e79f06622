from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from intone.store.database import Store
from tests.shared_services import postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every store test runs on both databases Intone supports."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'intone.db'}"
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    store.migrate()
    yield store
    store.close()

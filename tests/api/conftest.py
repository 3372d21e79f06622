from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.server import Server, serving


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[Server]:
    """One real server for the API tests, with its own data directory (and so its own database)."""
    with serving(tmp_path_factory.mktemp("intone-server")) as running:
        yield running

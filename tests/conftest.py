import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from intone.engines.registry import EngineSet


@pytest.fixture(scope="session", autouse=True)
def engine_cache(tmp_path_factory) -> Iterator[Path]:
    """One engine cache for the run, shared by every server the tests start (through the environment
    they inherit) and the in-process engines: Kokoro's graph is cut once and each voice calibrated once,
    as replicas sharing a cache would, instead of once per server."""
    cache = tmp_path_factory.mktemp("engine-cache")
    previous = os.environ.get("INTONE_ENGINE_CACHE_DIR")
    os.environ["INTONE_ENGINE_CACHE_DIR"] = str(cache)
    yield cache
    if previous is None:
        del os.environ["INTONE_ENGINE_CACHE_DIR"]
    else:
        os.environ["INTONE_ENGINE_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def engines(engine_cache: Path) -> EngineSet:
    """Real engines, loaded once for the whole run."""
    return EngineSet(engine_cache, threads=2)

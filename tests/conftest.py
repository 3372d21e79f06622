import pytest

from intone.engines.registry import EngineSet


@pytest.fixture(scope="session")
def engines(tmp_path_factory) -> EngineSet:
    """Real engines, loaded once for the whole run (Kokoro's patched model is cached in a temp dir)."""
    return EngineSet(tmp_path_factory.mktemp("intone-data"), threads=2)

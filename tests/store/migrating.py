"""Runs Alembic steps on a Store the way Store.migrate runs its upgrade, for the migration tests."""

from __future__ import annotations

from collections.abc import Callable

from alembic.config import Config

from intone.store.database import MIGRATIONS, Store


def migrate(store: Store, step: Callable[[Config, str], None], revision: str) -> None:
    """`step` (alembic.command.upgrade or downgrade) to `revision`, on the store's own engine."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    with store._engine.begin() as conn:
        config.attributes["connection"] = conn
        step(config, revision)

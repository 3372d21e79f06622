"""Alembic environment for the store: runs migrations on the Store's connection, or on a configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, make_url, pool

from intone.store.tables import Base

config = context.config
target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite can't ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline(url: str) -> None:
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=make_url(url).get_backend_name() == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


# Store.migrate hands over its own connection, so the URL is never re-parsed (and in-memory SQLite works).
connection = config.attributes.get("connection")
if connection is not None:
    run_on(connection)
else:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError(
            "set sqlalchemy.url, or run migrations through intone.store.database.Store.migrate"
        )
    if context.is_offline_mode():
        run_offline(url)
    else:
        with create_engine(url, poolclass=pool.NullPool).connect() as conn:
            run_on(conn)

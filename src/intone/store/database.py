"""The `Store`: the engine, its SQLite tuning, running migrations, and the repositories on top."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import DBAPIConnection, DBAPICursor
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from intone import private
from intone.store.history import DEFAULT_RETENTION, History, Retention
from intone.store.keys import Keys
from intone.store.tables import Base, InstallationRow
from intone.store.tokens import Tokens
from intone.store.usage import Usage
from intone.store.voice_settings import VoiceSettings

UpsertFactory = Callable[[type[Base]], sqlite.Insert | postgresql.Insert]

MIGRATIONS = Path(__file__).parent / "migrations"

# How long a SQLite connection waits for another one's lock before giving up.
_BUSY_TIMEOUT_S = 5.0
# Execution option asking the SQLite "begin" hook to take the write lock up front.
_WRITE_LOCK = "intone_write_lock"
# Arbitrary key for the PostgreSQL advisory lock that serializes migrations across processes.
_MIGRATION_LOCK_KEY = 0x1D70E


class Store:
    """The database behind the server (SQLite or PostgreSQL), given as an SQLAlchemy URL; `retention` is how
    much audio the history keeps."""

    def __init__(self, url: str, retention: Retention = DEFAULT_RETENTION) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database
            if database and database != ":memory:" and not database.startswith("file:"):
                private.new_directory(Path(database).parent)
                private.sqlite_database(Path(database))
            # One in-memory database must be shared by every thread, or each would see an empty one.
            memory = database in (None, "", ":memory:")
            pool = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}} if memory else {}
            self._engine = create_engine(parsed, **pool)
            _tune_sqlite(self._engine)
        else:
            self._engine = create_engine(parsed, pool_pre_ping=True)
        insert = _upsert_factory(self._engine.dialect.name)
        self.voice_settings = VoiceSettings(self._engine, insert)
        self.usage = Usage(self._engine, insert)
        self.keys = Keys(self._engine)
        self.tokens = Tokens(self._engine)
        self.history = History(self._engine, retention)

    def migrate(self) -> None:
        """Bring the schema up to the newest migration; a no-op when it already is.

        Two processes may call this at once: the second waits on a database lock until the first has
        committed, then finds nothing left to do.
        """
        config = Config()
        # The value goes through ConfigParser interpolation, where a bare % in the path would be an error.
        config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
        with self._engine.connect() as conn, conn.execution_options(**{_WRITE_LOCK: True}).begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            # env.py runs on this connection, inside this transaction, instead of opening its own.
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def installed_at(self) -> datetime:
        """When this database was set up."""
        with self._engine.connect() as conn:
            created = conn.execute(select(InstallationRow.created_at)).scalar_one()
        return created if created.tzinfo else created.replace(tzinfo=UTC)

    def close(self) -> None:
        """Close the pooled connections; the Store is not used afterwards."""
        self._engine.dispose()


def _upsert_factory(dialect: str) -> UpsertFactory:
    if dialect == "sqlite":
        return sqlite.insert
    if dialect == "postgresql":
        return postgresql.insert
    raise ValueError(f"unsupported database {dialect!r}: use SQLite or PostgreSQL")


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # sqlite3's legacy transaction control never emits BEGIN before SELECT or DDL; switch it off and let
        # `_on_begin` emit BEGIN, so a migration's reads and DDL really share one transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        _enable_wal(cursor)
        # The usual WAL pairing: no corruption risk, fewer fsyncs; a power cut may drop the last commits.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE makes a concurrent migrator wait for the lock; a deferred transaction that read first
        # would instead fail when it tries to write after the other one committed.
        immediate = conn.get_execution_options().get(_WRITE_LOCK, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _enable_wal(cursor: DBAPICursor) -> None:
    """Switch the database file to WAL, which lets readers carry on while a write is in progress.

    When two connections convert a fresh file at the same moment, SQLite fails one of them at once instead
    of running the busy handler (waiting could deadlock). The file stays in WAL mode once converted, so a
    retry after the other one finished is a no-op.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)

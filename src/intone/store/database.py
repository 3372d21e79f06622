"""The `Store`: the engine, its SQLite tuning, running migrations, and the repositories on top."""

from __future__ import annotations

import os
import sqlite3
import sys
import time

if sys.platform != "win32":
    import fcntl
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import DBAPIConnection, DBAPICursor
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from intone import private
from intone.store.charges import DEFAULT_LEASE, Charges
from intone.store.dictionaries import Dictionaries
from intone.store.history import DEFAULT_RETENTION, History, Retention
from intone.store.keys import Keys
from intone.store.tables import Base, InstallationRow
from intone.store.tokens import Tokens
from intone.store.usage import Usage
from intone.store.voice_settings import VoiceSettings
from intone.store.writing import WRITE_LOCK

UpsertFactory = Callable[[type[Base]], sqlite.Insert | postgresql.Insert]

MIGRATIONS = Path(__file__).parent / "migrations"

# How long a SQLite connection waits for another one's lock before giving up.
_BUSY_TIMEOUT_S = 5.0
# Where a connection keeps the descriptor of the write queue's lock file while its transaction writes.
_QUEUE_FD = "intone_write_queue_fd"
# Arbitrary key for the PostgreSQL advisory lock that serializes migrations across processes.
_MIGRATION_LOCK_KEY = 0x1D70E


class Store:
    """The database behind the server (SQLite or PostgreSQL), given as an SQLAlchemy URL; `retention` is how
    much audio the history keeps, `charge_lease` how long a pending charge outlives its process's last
    renewal."""

    def __init__(
        self, url: str, retention: Retention = DEFAULT_RETENTION, charge_lease: timedelta = DEFAULT_LEASE
    ) -> None:
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
            # Only a file that other processes can open needs the queue; flock does not exist on Windows.
            queue = None if memory or database.startswith("file:") or sys.platform == "win32" else database
            _tune_sqlite(self._engine, queue and Path(f"{queue}-lock"))
        else:
            self._engine = create_engine(parsed, pool_pre_ping=True)
        insert = _upsert_factory(self._engine.dialect.name)
        self.voice_settings = VoiceSettings(self._engine, insert)
        self.usage = Usage(self._engine, insert)
        self.charges = Charges(self._engine, self.usage, charge_lease)
        self.keys = Keys(self._engine)
        self.tokens = Tokens(self._engine)
        self.history = History(self._engine, retention)
        self.dictionaries = Dictionaries(self._engine)

    def migrate(self) -> None:
        """Bring the schema up to the newest migration; a no-op when it already is.

        Two processes may call this at once: the second waits on a database lock until the first has
        committed, then finds nothing left to do.
        """
        config = Config()
        # The value goes through ConfigParser interpolation, where a bare % in the path would be an error.
        config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
        with self._engine.connect() as conn, conn.execution_options(**{WRITE_LOCK: True}).begin():
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


def _tune_sqlite(engine: Engine, queue: Path | None) -> None:
    """SQLite settings for every connection, and the order writers take the write lock in.

    Transactions that write (opened through `writing.writer`) start with BEGIN IMMEDIATE, which takes
    SQLite's write lock at once: a deferred transaction that read first could not wait for it later (it
    fails at once when another connection committed meanwhile). Reads stay plain BEGIN: in WAL mode they
    never wait for a writer, and the key lookup of every request is one.

    SQLite's busy handler waits for the lock by polling with sleeps of up to 100 ms, which is not fair:
    with dozens of writers in several processes (`--workers 2`, or two servers on one directory) one could
    lose every poll until the busy timeout ran out and its request failed with "database is locked". So
    writers first queue on an flock of the `queue` file, which the kernel hands over without polling; the
    SQLite lock then only waits for the previous writer's COMMIT.
    """

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
        if not conn.get_execution_options().get(WRITE_LOCK, False):
            conn.exec_driver_sql("BEGIN")
            return
        if queue is not None:
            fd = os.open(queue, os.O_RDWR | os.O_CREAT, 0o600)
            conn.info[_QUEUE_FD] = fd
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _leave_queue(conn.info)
            raise

    # Both fire just before the COMMIT or ROLLBACK, which the next writer's busy handler then waits for.
    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(conn: Connection) -> None:
        _leave_queue(conn.info)

    # A connection going back to the pool (or away) without either must not keep every writer waiting.
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        _leave_queue(record.info)


def _leave_queue(info: dict[Any, Any]) -> None:
    fd = info.pop(_QUEUE_FD, None)
    if fd is not None:
        os.close(fd)  # closing the descriptor releases its flock


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

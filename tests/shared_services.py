"""Real PostgreSQL and Redis for the tests of the shared (multi-replica) mode, on loopback.

Each test gets a database of its own (created and dropped here) and a Redis key prefix of its own.
When a service cannot be reached the test is skipped, saying where it looked; with
INTONE_TEST_REQUIRE_SERVICES=1 (as in CI, which starts both) it fails instead.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

POSTGRES_URL = os.environ.get("INTONE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("INTONE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRED = os.environ.get("INTONE_TEST_REQUIRE_SERVICES") == "1"


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason} (INTONE_TEST_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@contextmanager
def postgres_database() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"intone_test_{secrets.token_hex(6)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
    except OperationalError as error:
        admin.dispose()
        _unavailable(
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({error.orig}); set INTONE_TEST_POSTGRES_URL"
        )
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def redis_url() -> str:
    """The test Redis, after checking it answers."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError as error:
        _unavailable(f"Redis is not reachable at {REDIS_URL} ({error}); set INTONE_TEST_REDIS_URL")
    finally:
        client.close()
    return REDIS_URL


@contextmanager
def mode_env(mode: str) -> Iterator[dict[str, str]]:
    """Settings for a server as one machine runs it ("embedded": SQLite, in-process limits) or as a
    replica does ("shared": a fresh PostgreSQL database and Redis); warm-up off, as tests of rules want."""
    env = {"INTONE_WARM_UP": "false"}
    if mode == "shared":
        with postgres_database() as database:
            yield env | {"INTONE_DATABASE_URL": database, "INTONE_REDIS_URL": redis_url()}
    else:
        yield env

"""Marks the transactions that write, so that on SQLite they queue for the write lock (see database.py)."""

from __future__ import annotations

from sqlalchemy import Engine

# Execution option the SQLite "begin" hook reads.
WRITE_LOCK = "intone_write_lock"


def writer(engine: Engine) -> Engine:
    """The engine for a transaction that will write: open it as `writer(engine).begin()`."""
    return engine.execution_options(**{WRITE_LOCK: True})

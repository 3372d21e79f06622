"""Character usage: a running total of synthesized characters per subject."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select

from intone.store.tables import UsageRow
from intone.store.writing import writer

if TYPE_CHECKING:
    from intone.store.database import UpsertFactory


class Usage:
    """Adds to and reads the character totals."""

    def __init__(self, engine: Engine, insert: UpsertFactory) -> None:
        self._engine = engine
        self._insert = insert

    def add(self, subject: str, characters: int) -> int:
        """Add `characters` to the subject's total (creating it at zero first) and return the new total."""
        now = datetime.now(UTC)
        stmt = self._insert(UsageRow).values(subject=subject, characters=characters, updated_at=now)
        # One statement does the read-modify-write inside the database, so concurrent adds can't lose counts.
        stmt = stmt.on_conflict_do_update(
            index_elements=[UsageRow.subject],
            set_={"characters": UsageRow.characters + stmt.excluded.characters, "updated_at": now},
        ).returning(UsageRow.characters)
        with writer(self._engine).begin() as conn:
            return conn.execute(stmt).scalar_one()

    def charge(self, subject: str, characters: int, limit: int | None) -> int | None:
        """Add `characters` unless that would take the total past `limit` (None: no limit): the new total,
        or None when the charge was refused and nothing changed.

        The check and the addition are one statement, so parallel charges (from any number of server
        processes on one database) can never overspend the limit between them.
        """
        if limit is None:
            return self.add(subject, characters)
        if characters > limit:
            return None
        now = datetime.now(UTC)
        stmt = self._insert(UsageRow).values(subject=subject, characters=characters, updated_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=[UsageRow.subject],
            set_={"characters": UsageRow.characters + stmt.excluded.characters, "updated_at": now},
            where=UsageRow.characters + stmt.excluded.characters <= limit,
        ).returning(UsageRow.characters)
        with writer(self._engine).begin() as conn:
            return conn.execute(stmt).scalar()

    def get(self, subject: str) -> int:
        """The subject's total so far; 0 when nothing was recorded."""
        with self._engine.connect() as conn:
            total = conn.execute(select(UsageRow.characters).where(UsageRow.subject == subject)).scalar()
        return total or 0

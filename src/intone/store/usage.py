"""Usage: running totals of synthesized characters, and of audio transcribed, per subject."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, select

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
        with writer(self._engine).begin() as conn:
            return self.add_on(conn, subject, characters)

    def add_on(self, conn: Connection, subject: str, characters: int) -> int:
        """`add`, inside the caller's transaction."""
        total = self.charge_on(conn, subject, characters, None)
        assert total is not None  # without a limit nothing is refused
        return total

    def charge(self, subject: str, characters: int, limit: int | None) -> int | None:
        """Add `characters` unless that would take the total past `limit` (None: no limit): the new total,
        or None when the charge was refused and nothing changed."""
        with writer(self._engine).begin() as conn:
            return self.charge_on(conn, subject, characters, limit)

    def charge_on(self, conn: Connection, subject: str, characters: int, limit: int | None) -> int | None:
        """`charge`, inside the caller's transaction.

        The check and the addition are one statement, so parallel charges (from any number of server
        processes on one database) can never overspend the limit between them.
        """
        if limit is not None and characters > limit:
            return None
        now = datetime.now(UTC)
        stmt = self._insert(UsageRow).values(subject=subject, characters=characters, updated_at=now)
        # One statement does the read-modify-write inside the database, so concurrent adds can't lose counts.
        stmt = stmt.on_conflict_do_update(
            index_elements=[UsageRow.subject],
            set_={"characters": UsageRow.characters + stmt.excluded.characters, "updated_at": now},
            where=None if limit is None else UsageRow.characters + stmt.excluded.characters <= limit,
        ).returning(UsageRow.characters)
        return conn.execute(stmt).scalar()

    def get(self, subject: str) -> int:
        """The subject's total so far; 0 when nothing was recorded."""
        with self._engine.connect() as conn:
            total = conn.execute(select(UsageRow.characters).where(UsageRow.subject == subject)).scalar()
        return total or 0

    def add_transcribed(self, subject: str, seconds: float) -> float:
        """Add `seconds` of transcribed audio to the subject's total; the new total in seconds."""
        now = datetime.now(UTC)
        stmt = self._insert(UsageRow).values(
            subject=subject, transcribed_ms=round(seconds * 1000), updated_at=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[UsageRow.subject],
            set_={
                "transcribed_ms": UsageRow.transcribed_ms + stmt.excluded.transcribed_ms,
                "updated_at": now,
            },
        ).returning(UsageRow.transcribed_ms)
        with writer(self._engine).begin() as conn:
            return conn.execute(stmt).scalar_one() / 1000

    def transcribed(self, subject: str) -> float:
        """Seconds of audio the subject had transcribed so far."""
        with self._engine.connect() as conn:
            total = conn.execute(select(UsageRow.transcribed_ms).where(UsageRow.subject == subject)).scalar()
        return (total or 0) / 1000

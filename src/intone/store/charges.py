"""Pending charges: credits charged to requests still running, so that a crash cannot keep them.

A request's credits are added to its subject's usage in one transaction with a pending row, held by
the server process that runs the request. When the request ends, `settle` deletes the row and, if
nothing was delivered, gives the credits back in that same transaction. A process that dies mid-request
(kill -9, the OOM killer, a power cut) settles nothing; so its rows carry an expiry, which the live
process keeps pushing forward (`renew`), and any process on the database gives back the credits of rows
past their expiry (`expire`). A replica starting never touches another live replica's requests: their
rows are renewed. Expiries are written and compared on each process's own clock, so replicas' clocks
must agree to well within a lease (NTP does).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, insert, update

from intone.store.tables import PendingChargeRow
from intone.store.usage import Usage
from intone.store.writing import writer

log = logging.getLogger("intone.store")

DEFAULT_LEASE = timedelta(seconds=60)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Charge:
    """Credits charged to a running request; `total` is the subject's usage, these credits included."""

    charge_id: str | None  # None when nothing was charged (zero credits): nothing to settle
    subject: str
    credits: int
    total: int


class Charges:
    """The pending charges of one process (`holder`, new for every Store), and the sweep of dead ones'."""

    def __init__(
        self,
        engine: Engine,
        usage: Usage,
        lease: timedelta = DEFAULT_LEASE,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._engine = engine
        self._usage = usage
        self._clock = clock  # tests move time on
        self.lease = lease
        self.holder = uuid.uuid4().hex

    def open(self, subject: str, credits: int, limit: int | None) -> Charge | None:
        """Charge `credits` unless that would take the subject past `limit` (None: no limit), pending
        until settled; None when refused (nothing changed)."""
        charge_id = uuid.uuid4().hex if credits else None
        with writer(self._engine).begin() as conn:
            total = self._usage.charge_on(conn, subject, credits, limit)
            if total is None:
                return None
            if charge_id is not None:
                row = {"charge_id": charge_id, "subject": subject, "credits": credits}
                expiry = {"holder": self.holder, "expires_at": self._clock() + self.lease}
                conn.execute(insert(PendingChargeRow).values(**row, **expiry))
        return Charge(charge_id, subject, credits, total)

    def settle(self, charge: Charge, delivered: bool) -> None:
        """Ends a charge: the credits stay when something was delivered, else they come back. Once per
        charge (`Grant.end` sees to it): a charge found gone was swept, so a delivered one is charged
        again."""
        if charge.charge_id is None:
            return
        with writer(self._engine).begin() as conn:
            gone = delete(PendingChargeRow).where(PendingChargeRow.charge_id == charge.charge_id)
            pending = conn.execute(gone).rowcount == 1
            if pending and not delivered:
                self._usage.add_on(conn, charge.subject, -charge.credits)
            elif not pending and delivered:
                # Swept as abandoned while this process could not renew it (a stall longer than the
                # lease), so refunded: the audio went out, so it is charged again.
                log.warning("charge %s outlived its lease; charged again", charge.charge_id)
                self._usage.add_on(conn, charge.subject, charge.credits)

    def renew(self) -> int:
        """Pushes the expiry of this process's pending charges one lease ahead; how many there are."""
        stmt = (
            update(PendingChargeRow)
            .where(PendingChargeRow.holder == self.holder)
            .values(expires_at=self._clock() + self.lease)
        )
        with writer(self._engine).begin() as conn:
            return conn.execute(stmt).rowcount

    def expire(self) -> int:
        """Gives back the credits of every pending charge past its expiry (its process is gone); how many."""
        stmt = (
            delete(PendingChargeRow)
            .where(PendingChargeRow.expires_at < self._clock())
            .returning(PendingChargeRow.subject, PendingChargeRow.credits)
        )
        with writer(self._engine).begin() as conn:
            # DELETE ... RETURNING: of two processes sweeping at once, each row is given back by one only.
            rows = conn.execute(stmt).all()
            refunds: Counter[str] = Counter()
            for subject, credits in rows:
                refunds[subject] += credits
            for subject, credits in refunds.items():
                self._usage.add_on(conn, subject, -credits)
        return len(rows)

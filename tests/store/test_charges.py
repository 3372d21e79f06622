"""Pending charges in the store, on SQLite and PostgreSQL: settled once, and given back when their process
died (its lease lapsed), never while their process lives and renews them."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from intone.store.charges import Charges
from intone.store.database import Store
from intone.store.tables import PendingChargeRow

LEASE = timedelta(seconds=30)


class Clock:
    """A time that moves only when told to, shared by the processes a test plays."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _process(store: Store, clock: Clock) -> Charges:
    """The charges of one server process on the store's database (each has its own holder id)."""
    return Charges(store._engine, store.usage, LEASE, clock)


def _pending(store: Store) -> int:
    with store._engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(PendingChargeRow)).scalar_one()


def test_a_charge_is_kept_when_delivered_and_given_back_once_when_not(store: Store) -> None:
    charges = _process(store, Clock())
    kept = charges.open("alice", 10, None)
    given_back = charges.open("alice", 7, None)
    assert kept is not None and given_back is not None
    assert (kept.total, given_back.total) == (10, 17) and _pending(store) == 2
    charges.settle(kept, delivered=True)
    charges.settle(given_back, delivered=False)
    charges.settle(given_back, delivered=False)  # a second refund changes nothing
    assert store.usage.get("alice") == 10 and _pending(store) == 0


def test_a_refused_charge_leaves_nothing_pending(store: Store) -> None:
    charges = _process(store, Clock())
    assert charges.open("alice", 8, 10) is not None
    assert charges.open("alice", 3, 10) is None
    assert store.usage.get("alice") == 8 and _pending(store) == 1


def test_nothing_is_pending_for_zero_credits(store: Store) -> None:
    charge = _process(store, Clock()).open("alice", 0, None)
    assert charge is not None and charge.charge_id is None and _pending(store) == 0


def test_a_dead_process_charges_come_back_once_its_lease_lapses(store: Store) -> None:
    clock = Clock()
    dead, sweeper = _process(store, clock), _process(store, clock)
    dead.open("alice", 10, None)
    dead.open("bob", 4, None)
    dead.open("alice", 5, None)
    clock.now += LEASE  # not past it yet
    assert sweeper.expire() == 0 and store.usage.get("alice") == 15
    clock.now += timedelta(seconds=1)
    assert sweeper.expire() == 3
    assert (store.usage.get("alice"), store.usage.get("bob"), _pending(store)) == (0, 0, 0)
    assert sweeper.expire() == 0 and store.usage.get("alice") == 0


def test_a_live_process_keeps_its_charges_by_renewing_them(store: Store) -> None:
    clock = Clock()
    live, restarted = _process(store, clock), _process(store, clock)
    charge = live.open("alice", 10, None)
    assert charge is not None
    for _ in range(5):  # well past the first lease, renewed every third of one
        clock.now += LEASE / 3
        assert live.renew() == 1
        assert restarted.expire() == 0
    assert store.usage.get("alice") == 10
    live.settle(charge, delivered=True)
    assert store.usage.get("alice") == 10 and live.renew() == 0


def test_a_charge_swept_while_its_process_stalled_still_settles_right(store: Store) -> None:
    clock = Clock()
    stalled, sweeper = _process(store, clock), _process(store, clock)
    delivered, undelivered = stalled.open("alice", 10, None), stalled.open("alice", 3, None)
    assert delivered is not None and undelivered is not None
    clock.now += LEASE * 2
    assert sweeper.expire() == 2 and store.usage.get("alice") == 0
    stalled.settle(delivered, delivered=True)  # its audio went out: charged again
    stalled.settle(undelivered, delivered=False)  # given back once already
    assert store.usage.get("alice") == 10


def test_two_processes_sweeping_at_once_give_each_charge_back_once(store: Store) -> None:
    clock = Clock()
    dead = _process(store, clock)
    for _ in range(40):
        dead.open("alice", 1, None)
    clock.now += LEASE * 2
    sweepers = [_process(store, clock) for _ in range(4)]
    counts: list[int] = []
    start = threading.Barrier(len(sweepers))

    def sweep(charges: Charges) -> None:
        start.wait()
        counts.append(charges.expire())

    threads = [threading.Thread(target=sweep, args=(charges,)) for charges in sweepers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 40 and store.usage.get("alice") == 0


def test_a_charge_left_by_a_killed_process_comes_back(database_url: str) -> None:
    Store(database_url).migrate()
    script = (
        "import sys, time\n"
        "from intone.store.database import Store\n"
        "store = Store(sys.argv[1])\n"
        "store.charges.settle(store.charges.open('alice', 5, None), delivered=True)\n"
        "store.charges.open('alice', 123, None)\n"
        "print('charged', flush=True)\n"
        "time.sleep(60)\n"
    )
    command = [sys.executable, "-c", script, database_url]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "charged"
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    restarted = Store(database_url)
    try:
        assert restarted.usage.get("alice") == 128  # charged until the lease lapses
        clock = Clock()
        clock.now = datetime.now(UTC) + restarted.charges.lease + timedelta(seconds=1)
        assert _process(restarted, clock).expire() == 1
        assert restarted.usage.get("alice") == 5  # the delivered charge stays
    finally:
        restarted.close()

"""`Job.iterate`: a blocking iterator stepped on the scheduler's workers, stopped cleanly when its
consumer goes away."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from intone.scheduling.playback import Playback
from intone.scheduling.scheduler import Job, Scheduler

STEP = 0.2  # seconds each fake step blocks


@contextmanager
def one_worker() -> Iterator[Scheduler]:
    scheduler = Scheduler(1, sprinter=False)
    try:
        yield scheduler
    finally:
        scheduler.shutdown()


def iterate(scheduler: Scheduler, items: Iterator[int]):
    return Job(scheduler, 0, Playback(live=True)).iterate(items, lambda _: 0.1)


@dataclass
class Record:
    started: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)
    threads: set[int] = field(default_factory=set)
    closed: threading.Event = field(default_factory=threading.Event)


def steps(record: Record, count: int, fail_at: int | None = None) -> Iterator[int]:
    """A blocking generator: each step sleeps, and says when it started and finished."""
    try:
        for index in range(count):
            record.started.append(index)
            record.threads.add(threading.get_ident())
            time.sleep(STEP)
            if index == fail_at:
                raise ValueError(f"step {index} failed")
            record.finished.append(index)
            yield index
    finally:
        record.closed.set()


def test_all_items_arrive_in_order_without_blocking_the_loop():
    record = Record()

    async def main() -> tuple[list[int], int]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.02)
                ticks += 1

        ticker = asyncio.create_task(tick())
        with one_worker() as scheduler:
            items = [item async for item in iterate(scheduler, steps(record, 3))]
        ticker.cancel()
        return items, ticks

    items, ticks = asyncio.run(main())
    assert items == [0, 1, 2]
    assert record.started == [0, 1, 2]
    assert record.finished == [0, 1, 2]
    assert record.closed.is_set()
    assert threading.get_ident() not in record.threads  # the steps ran on a worker thread
    # Three 0.2 s steps: a loop ticking every 20 ms kept ticking meanwhile (far from 0 if it never blocked).
    assert ticks >= 10


def test_breaking_after_the_first_item_starts_no_further_step_and_closes_the_iterator():
    record = Record()

    async def main() -> tuple[list[int], bool]:
        received = []
        # Held here so that only `iterate` can close it (garbage collection would close it too).
        blocking = steps(record, 5)
        with one_worker() as scheduler:
            async for item in iterate(scheduler, blocking):
                received.append(item)
                break
            await asyncio.sleep(STEP * 2)  # long enough for a wrongly started step to show
            # The abandoned async generator is closed by the loop's finalizer, not only at loop shutdown.
            closed_while_running = record.closed.is_set()
        return received, closed_while_running

    received, closed_while_running = asyncio.run(main())
    assert received == [0]
    assert record.started == [0]
    assert record.finished == [0]
    assert closed_while_running


def test_cancelling_the_consumer_mid_step_lets_that_step_finish_then_closes():
    record = Record()

    async def main() -> tuple[list[int], bool, bool]:
        received: list[int] = []
        first = asyncio.Event()
        blocking = steps(record, 5)  # held here, as above

        async def consume(scheduler: Scheduler) -> None:
            async for item in iterate(scheduler, blocking):
                received.append(item)
                first.set()

        with one_worker() as scheduler:
            task = asyncio.create_task(consume(scheduler))
            await first.wait()
            await asyncio.sleep(STEP / 2)  # the second step is now half-way through
            assert record.started == [0, 1]
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            closed_at_cancel = record.closed.is_set()
            await asyncio.sleep(STEP * 2)  # the running step finishes, then the iterator is closed
            closed_after = record.closed.is_set()
        return received, closed_at_cancel, closed_after

    received, closed_at_cancel, closed_after = asyncio.run(main())
    assert received == [0]
    assert not closed_at_cancel  # closing a generator that is running in another thread would fail
    assert record.started == [0, 1]  # the running step completed; no third one began
    assert record.finished == [0, 1]
    assert closed_after


def test_an_exception_in_the_iterator_reaches_the_consumer():
    record = Record()

    async def main() -> list[int]:
        received = []
        with one_worker() as scheduler:
            async for item in iterate(scheduler, steps(record, 5, fail_at=1)):
                received.append(item)
        return received

    with pytest.raises(ValueError, match="step 1 failed"):
        asyncio.run(main())
    assert record.started == [0, 1]
    assert record.finished == [0]
    assert record.closed.is_set()


def test_an_empty_iterator_yields_nothing():
    record = Record()

    async def main() -> list[int]:
        with one_worker() as scheduler:
            return [item async for item in iterate(scheduler, steps(record, 0))]

    assert asyncio.run(main()) == []
    assert record.started == []
    assert record.closed.is_set()

"""The engine workers and their queue of steps.

A step is a blocking callable, typically one window of a request's audio. Workers are plain threads
(one per core by default); the queue is a list scanned on every pick, because the order depends on the
time of the pick (a step's rank changes when its deadline passes) and it holds at most a few steps per
running request.

A window cannot be interrupted, and a stream's later windows last up to two seconds of audio, so a new
request arriving while every worker is busy would wait for one to finish. One more thread, the sprinter,
takes only first windows (a listener who has no audio yet), and only while every worker is busy; the
workers run at a lower OS priority than the sprinter (on Linux), so the kernel gives the sprinter a
whole core and the workers share the rest for the moment it runs. Playing streams lose a fraction of a
second of their lead; the new listener does not wait for a window of someone else's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from intone import metrics
from intone.engines.cores import granted
from intone.scheduling.playback import Playback
from intone.scheduling.speeds import EngineSpeeds

T = TypeVar("T")
# Background work (a voice's calibration) runs when nothing else waits, and at most one at a time, so
# it never holds more than one worker from requests. On a machine that is never idle it would never
# run, and the requests waiting for it would stay slow: after this many seconds it becomes an ordinary
# step due then, at the lowest priority.
BACKGROUND = float("inf")
BACKGROUND_PATIENCE = 10.0
# How much lower the workers' OS priority is than the sprinter's (and the event loop's): nice 5 weighs
# about a third of nice 0 in Linux's scheduler, enough for the sprinter to get a core of its own.
WORKER_NICENESS = 5


@dataclass(eq=False)
class _Step:
    run: Callable[[], Any]
    future: Future[Any]
    deadline: float
    priority: int
    order: int
    job: Job | None = None
    first: bool = False  # the listener has no audio yet: a request's first window
    # Engine and seconds of audio the result holds, for the engine's measured speed.
    measure: Callable[[Any], tuple[str, float]] | None = None
    submitted: float = field(default_factory=time.monotonic)

    @property
    def background(self) -> bool:
        return self.deadline == BACKGROUND

    def rank(self, now: float) -> tuple[float, ...]:
        deadline, priority = self.deadline, self.priority
        if self.background:
            if now < self.submitted + BACKGROUND_PATIENCE:
                return (2, 0, self.order)
            deadline, priority = self.submitted + BACKGROUND_PATIENCE, -(2**31)
        if deadline <= now:
            # Already due: priority decides, then a listener who is playing goes before one with no
            # audio yet: a break in speech is worse than a later start, and the sprinter gives first
            # windows a core of their own anyway.
            return (0, -priority, self.first, deadline, self.order)
        return (1, deadline, -priority, self.order)


class Scheduler:
    def __init__(self, workers: int, speeds: EngineSpeeds | None = None, sprinter: bool = True) -> None:
        """`sprinter`: start the extra thread for first windows (see the module's docstring)."""
        self.speeds = speeds or EngineSpeeds()
        self._queue: list[_Step] = []
        self._ready = threading.Condition()
        self._order = itertools.count()
        self._closed = False
        self._background_running = False
        self._idle = 0  # workers (not the sprinter) waiting for a step
        self._wide = 0  # steps running on more than one core
        # Counts events that change how fast a running step goes: a worker falling idle, the sprinter
        # starting, a step on more than one core starting or ending. A step measures its engine's speed
        # only when none happened while it ran.
        self._disturbances = 0
        self._workers = workers
        self._threads = [
            threading.Thread(target=self._work, args=(False,), name=f"engine-{index}", daemon=True)
            for index in range(workers)
        ]
        if sprinter:
            self._threads.append(
                threading.Thread(target=self._work, args=(True,), name="engine-sprinter", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    @property
    def workers(self) -> int:
        return self._workers

    def submit(
        self,
        run: Callable[[], T],
        *,
        deadline: float | None = None,
        priority: int = 0,
        job: Job | None = None,
        measure: Callable[[T], tuple[str, float]] | None = None,
        first: bool = False,
    ) -> Future[T]:
        """Queues `run`; due at `deadline` (monotonic seconds; None: now; BACKGROUND: when idle).
        `first`: a listener waits for its first audio; the sprinter takes only such steps, and among
        due steps of one priority they go after those of listeners already playing."""
        future: Future[T] = Future()
        step = _Step(
            run,
            future,
            time.monotonic() if deadline is None else deadline,
            priority,
            next(self._order),
            job,
            first,
            measure,
        )
        with self._ready:
            if self._closed:
                raise RuntimeError("the scheduler is shut down")
            self._queue.append(step)
            self._ready.notify_all()  # the sprinter and the workers take different steps
        return future

    async def call(self, run: Callable[[], T], *, priority: int = 0) -> T:
        """Runs `run` as one step due now and waits for it."""
        return await asyncio.wrap_future(self.submit(run, priority=priority))

    def waiting(self) -> int:
        with self._ready:
            return len(self._queue)

    def drop(self, job: Job) -> None:
        """Removes the job's queued steps; a step already running finishes."""
        with self._ready:
            mine = [step for step in self._queue if step.job is job]
            self._queue = [step for step in self._queue if step.job is not job]
        for step in mine:
            step.future.cancel()

    def shutdown(self) -> None:
        """Cancels queued steps, lets running ones finish, and stops the workers."""
        with self._ready:
            self._closed = True
            queued, self._queue = self._queue, []
            self._ready.notify_all()
        for step in queued:
            step.future.cancel()
        for thread in self._threads:
            thread.join()

    def _next(self, sprinter: bool) -> tuple[_Step, int, bool] | None:
        """The most urgent step this thread may take, removed from the queue, the cores it may use, and
        whether the step may measure its engine's speed; None once shut down.

        A worker takes any step. A step gets a second core while another worker is idle, whether it is
        due or ahead of its deadline: on a quiet server a new request's first window comes sooner, and a
        lone stream builds its lead faster (on a slow machine one core barely keeps Kokoro real time, and
        the doubled second window would outlast the first one's playback). Background work gets one.
        The sprinter takes only first windows, and only while no worker is idle (an idle worker would
        take the step with more cores).
        """
        with self._ready:
            while True:
                if self._closed:
                    return None
                now = time.monotonic()
                candidates = [step for step in self._queue if self._may_take(step, sprinter, now)]
                if candidates:
                    step = min(candidates, key=lambda s: s.rank(now))
                    self._queue.remove(step)
                    if step.background:
                        self._background_running = True
                    if sprinter:
                        self._disturbances += 1
                        return step, 1, False
                    if any(other.first for other in self._queue):
                        self._ready.notify_all()  # the sprinter may now take one
                    cores = 1 + (0 if step.background else self._idle)
                    crowded = self._idle == 0 and self._wide == 0
                    if cores > 1:
                        self._wide += 1
                        self._disturbances += 1
                    return step, cores, crowded
                if not sprinter:
                    self._idle += 1
                    self._disturbances += 1
                self._ready.wait()
                if not sprinter:
                    self._idle -= 1

    def _may_take(self, step: _Step, sprinter: bool, now: float) -> bool:
        if sprinter:
            return self._idle == 0 and step.first and not step.background and step.deadline <= now
        return not (step.background and self._background_running)

    def _work(self, sprinter: bool) -> None:
        if not sprinter:
            _lower_priority()
        while (picked := self._next(sprinter)) is not None:
            step, cores, crowded = picked
            try:
                self._run(step, cores, crowded)
            finally:
                with self._ready:
                    if cores > 1:
                        self._wide -= 1
                        self._disturbances += 1
                    if step.background:
                        self._background_running = False
                        self._ready.notify_all()

    def _run(self, step: _Step, cores: int, crowded: bool) -> None:
        if not step.future.set_running_or_notify_cancel():
            return
        disturbances = self._disturbances
        began = time.perf_counter()
        try:
            with granted(cores):
                result = step.run()
        except BaseException as error:
            step.future.set_exception(error)
            return
        busy = time.perf_counter() - began
        metrics.engine_ran(busy, step.measure(result) if step.measure is not None else None)
        # Speeds size admission, which matters when every worker is busy; workers running side by side
        # are slower than one alone (they share caches and memory bandwidth), so only steps run on one
        # core beside workers that stayed busy on one core each all along, with no sprint, measure them
        # (a step beside one on two cores shares its core with three threads, not two).
        undisturbed = disturbances == self._disturbances
        if step.measure is not None and cores == 1 and crowded and undisturbed:
            engine, audio = step.measure(result)
            self.speeds.record(engine, busy, audio)
        step.future.set_result(result)


_END = object()


@dataclass(eq=False)
class Job:
    """One request's engine work: its steps share a priority and a playback clock.

    `engine` names the engine whose speed this job's audio measures (a socket's segments may change it).
    """

    scheduler: Scheduler
    priority: int
    playback: Playback
    engine: str = ""
    _cancelled: bool = field(default=False, init=False)

    def submit(self, run: Callable[[], T], seconds: Callable[[T], float]) -> Future[T]:
        """Queues one step due at the playback deadline; `seconds(result)` is the audio it made."""
        deadline = self.playback.deadline(time.monotonic())  # restarts a listener who ran out
        return self.scheduler.submit(
            run,
            deadline=deadline,
            priority=self.priority,
            job=self,
            measure=lambda result: (self.engine, seconds(result)),
            first=self.playback.started is None,
        )

    async def iterate(self, steps: Iterator[T], seconds: Callable[[T], float]) -> AsyncIterator[T]:
        """The items of a blocking iterator, each `next` one step of this job.

        When the consumer stops early (a client left), a step already running finishes in its thread,
        then the iterator is closed; no further step starts.
        """
        running: Future[Any] | None = None
        try:
            while not self._cancelled:
                running = self.submit(lambda: next(steps, _END), lambda item: _seconds(item, seconds))
                item = await asyncio.wrap_future(running)
                running = None
                if item is _END:
                    return
                self.playback.advance(seconds(item), time.monotonic())
                yield item
        finally:
            if running is not None and not running.cancel():
                running.add_done_callback(lambda _: _close(steps))
            else:
                _close(steps)

    def cancel(self) -> None:
        """Drops the job's queued steps at once and starts no more."""
        self._cancelled = True
        self.scheduler.drop(self)


def _lower_priority() -> None:
    """Lowers this thread's OS priority below the sprinter's; Linux gives each thread its own nice value."""
    if sys.platform != "linux":
        return
    thread = threading.get_native_id()
    with contextlib.suppress(OSError):  # a sandbox may forbid it; the sprinter then shares cores evenly
        niceness = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, niceness + WORKER_NICENESS))


def _seconds(item: Any, seconds: Callable[[Any], float]) -> float:
    return 0.0 if item is _END else seconds(item)


def _close(steps: Iterator[Any]) -> None:
    close = getattr(steps, "close", None)
    if close is not None:
        close()

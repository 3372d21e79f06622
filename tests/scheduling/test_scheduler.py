"""The scheduler's order (deadline, then priority), cancellation, background work, fairness between
streams and measured engine speeds, with steps that only sleep or wait."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import CancelledError

import pytest

from intone.engines.cores import cores, granted
from intone.scheduling.playback import STREAM_MARGIN, Playback
from intone.scheduling.scheduler import BACKGROUND, WORKER_NICENESS, Job, Scheduler
from intone.scheduling.speeds import CROWDING, PRIORS, EngineSpeeds


@pytest.fixture
def scheduler() -> Iterator[Scheduler]:
    """One worker and no sprinter, so that every step queues behind the one running."""
    scheduler = Scheduler(1, sprinter=False)
    yield scheduler
    scheduler.shutdown()


def _occupy(scheduler: Scheduler) -> threading.Event:
    """Holds the only worker until the returned event is set, so steps queue behind it."""
    release, running = threading.Event(), threading.Event()

    def hold() -> None:
        running.set()
        release.wait(10)

    scheduler.submit(hold)
    assert running.wait(5)
    return release


def test_due_steps_go_by_priority_and_future_ones_by_deadline(scheduler):
    release = _occupy(scheduler)
    now = time.monotonic()
    order: list[str] = []
    futures = [
        scheduler.submit(lambda name=name: order.append(name), deadline=deadline, priority=priority)
        for name, deadline, priority in [
            ("later", now + 0.6, 5),
            ("soon", now + 0.3, 0),
            ("due-low", now - 1.0, 0),  # overdue the longest, but lower priority
            ("due-high", now, 2),
            ("due-high-earlier", now - 0.5, 2),
            ("idle", BACKGROUND, 9),
        ]
    ]
    release.set()
    for future in futures:
        future.result(5)
    assert order == ["due-high-earlier", "due-high", "due-low", "soon", "later", "idle"]


def test_a_step_not_yet_due_waits_for_nothing_when_the_worker_is_free(scheduler):
    began = time.monotonic()
    scheduler.submit(lambda: None, deadline=began + 30).result(5)
    assert time.monotonic() - began < 5  # deadlines order work; they never delay it


def test_cancelling_a_job_drops_its_queued_steps_at_once(scheduler):
    release = _occupy(scheduler)
    job = Job(scheduler, 0, Playback(live=True))
    ran: list[int] = []
    queued = [job.submit(lambda i=i: ran.append(i), lambda _: 0.0) for i in range(3)]
    other = scheduler.submit(lambda: ran.append(99))
    job.cancel()
    assert all(future.cancelled() for future in queued)
    assert scheduler.waiting() == 1
    release.set()
    other.result(5)
    assert ran == [99]


def test_background_work_runs_only_when_nothing_else_waits_and_one_at_a_time():
    scheduler = Scheduler(2)
    try:
        running, most = 0, 0
        lock = threading.Lock()

        def calibrate() -> None:
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            time.sleep(0.1)
            with lock:
                running -= 1

        background = [scheduler.submit(calibrate, deadline=BACKGROUND) for _ in range(3)]
        request = scheduler.submit(lambda: time.monotonic())
        for future in background:
            future.result(5)
        assert most == 1  # one worker stays free for requests
        assert request.result(5) < time.monotonic()
    finally:
        scheduler.shutdown()


def test_background_work_that_waited_long_enough_runs_before_steps_not_yet_due(scheduler, monkeypatch):
    release = _occupy(scheduler)
    now = time.monotonic()
    order: list[str] = []
    monkeypatch.setattr("intone.scheduling.scheduler.BACKGROUND_PATIENCE", 0.0)
    futures = [
        scheduler.submit(lambda: order.append("ahead"), deadline=now + 60),
        scheduler.submit(lambda: order.append("calibration"), deadline=BACKGROUND),
        scheduler.submit(lambda: order.append("due"), deadline=now - 1),
    ]
    release.set()
    for future in futures:
        future.result(5)
    assert order == ["due", "calibration", "ahead"]


def test_shutdown_cancels_queued_steps(scheduler):
    release = _occupy(scheduler)
    queued = scheduler.submit(lambda: None)
    threading.Timer(0.2, release.set).start()
    scheduler.shutdown()
    with pytest.raises(CancelledError):
        queued.result(1)
    with pytest.raises(RuntimeError):
        scheduler.submit(lambda: None)


def test_an_exception_reaches_the_submitter_and_the_worker_goes_on(scheduler):
    def fail() -> None:
        raise ValueError("no")

    with pytest.raises(ValueError):
        scheduler.submit(fail).result(5)
    assert scheduler.submit(lambda: 7).result(5) == 7


# --- Playback deadlines -----------------------------------------------------------------------------


def test_a_streams_first_window_is_due_at_once_and_the_next_before_its_listener_runs_out():
    playback = Playback(live=True)
    assert playback.deadline(100.0) == 100.0
    playback.advance(2.0, now=100.2)  # first audio out at 100.2: playback starts
    assert playback.deadline(100.5) == pytest.approx(100.2 + 2.0 - STREAM_MARGIN)
    playback.advance(1.0, now=100.6)
    assert playback.deadline(100.7) == pytest.approx(100.2 + 3.0 - STREAM_MARGIN)


def test_a_listener_who_ran_out_starts_again_as_new():
    playback = Playback(live=True)
    playback.advance(1.0, now=10.0)
    assert playback.deadline(50.0) == 50.0  # a socket that waited for text: due now, not 39 s late
    playback.advance(0.5, now=50.1)
    assert playback.deadline(50.2) == pytest.approx(50.1 + 0.5 - STREAM_MARGIN)


def test_a_whole_file_is_due_at_the_pace_of_real_time_from_its_arrival():
    playback = Playback(live=False)
    arrival = playback.started
    assert arrival is not None
    assert playback.deadline(arrival + 0.1) == arrival
    playback.advance(3.0, now=arrival + 0.5)
    assert playback.deadline(arrival + 0.6) == pytest.approx(arrival + 3.0)


# --- Streams through the scheduler ------------------------------------------------------------------


def _windows(count: int, seconds: float, work: float, made: list[float]) -> Iterator[float]:
    for _ in range(count):
        time.sleep(work)
        made.append(seconds)
        yield seconds


async def _listen(job: Job, steps: Iterator[float], first_audio: list[float]) -> None:
    async for _ in job.iterate(steps, lambda seconds: seconds):
        if not first_audio:
            first_audio.append(time.monotonic())


def test_streams_share_the_worker_fairly_and_a_new_one_overtakes_streams_ahead_of_their_listeners():
    """Four streams of 0.5 s windows costing 20 ms each on one worker are far ahead of real time, so
    a stream arriving later gets its first window before their next ones; and no stream runs away from
    the others."""
    scheduler = Scheduler(1, sprinter=False)
    try:
        made: list[list[float]] = [[] for _ in range(5)]
        first: list[list[float]] = [[] for _ in range(5)]

        async def main() -> tuple[float, int]:
            jobs = [Job(scheduler, 0, Playback(live=True)) for _ in range(5)]
            streams = [
                asyncio.create_task(_listen(jobs[i], _windows(40, 0.5, 0.02, made[i]), first[i]))
                for i in range(4)
            ]
            await asyncio.sleep(0.5)
            arrived = time.monotonic()
            late = asyncio.create_task(_listen(jobs[4], _windows(2, 0.5, 0.02, made[4]), first[4]))
            await late
            waited = first[4][0] - arrived
            # Fairness: while they run, no stream is more than a few windows ahead of another.
            spread = max(len(m) for m in made[:4]) - min(len(m) for m in made[:4])
            for job in jobs[:4]:
                job.cancel()
            await asyncio.gather(*streams, return_exceptions=True)
            return waited, spread

        waited, spread = asyncio.run(main())
        assert waited < 0.2  # about one 20 ms step: it did not queue behind the streams' windows
        assert spread <= 2
    finally:
        scheduler.shutdown()


def test_a_higher_tier_goes_first_among_streams_that_are_all_late():
    scheduler = Scheduler(1, sprinter=False)
    try:
        release = _occupy(scheduler)
        order: list[int] = []
        jobs = [Job(scheduler, priority, Playback(live=True)) for priority in (0, 3, 1)]
        futures = [job.submit(lambda p=job.priority: order.append(p), lambda _: 0.0) for job in jobs]
        release.set()
        for future in futures:
            future.result(5)
        assert order == [3, 1, 0]
    finally:
        scheduler.shutdown()


# --- The sprinter -----------------------------------------------------------------------------------


def _wait_until_idle(scheduler: Scheduler) -> None:
    """Waits (up to 5 s) until every worker is waiting for work, as on a quiet server."""
    deadline = time.monotonic() + 5
    while scheduler._idle < scheduler.workers and time.monotonic() < deadline:
        time.sleep(0.01)


def _running_on() -> tuple[str, int]:
    """The thread a step runs on and that thread's OS niceness."""
    return threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_a_first_window_does_not_wait_for_busy_workers_but_later_windows_do():
    scheduler = Scheduler(1)
    try:
        release = _occupy(scheduler)
        first = scheduler.submit(_running_on, first=True)
        later = scheduler.submit(_running_on)
        assert first.result(5)[0] == "engine-sprinter"  # while the only worker is still held
        assert not later.done()
        release.set()
        assert later.result(5)[0] == "engine-0"
        background = scheduler.submit(_running_on, deadline=BACKGROUND)
        ahead = scheduler.submit(_running_on, deadline=time.monotonic() + 0.3, first=True)
        assert background.result(5)[0] == "engine-0"
        assert ahead.result(5)[0] == "engine-0"  # the sprinter takes only first windows already due
    finally:
        scheduler.shutdown()


def test_an_idle_worker_takes_a_first_window_with_two_cores_rather_than_the_sprinter():
    scheduler = Scheduler(2)
    try:
        _wait_until_idle(scheduler)
        for _ in range(5):
            assert scheduler.submit(lambda: (threading.current_thread().name, cores()), first=True).result(
                5
            ) in {
                ("engine-0", 2),
                ("engine-1", 2),
            }
    finally:
        scheduler.shutdown()


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread niceness is Linux's")
def test_workers_run_at_a_lower_os_priority_than_the_sprinter():
    scheduler = Scheduler(1)
    try:
        release = _occupy(scheduler)
        sprinter = scheduler.submit(_running_on, first=True).result(5)
        release.set()
        worker = scheduler.submit(_running_on).result(5)
        assert sprinter[0] == "engine-sprinter" and worker[0] == "engine-0"
        assert worker[1] == min(19, sprinter[1] + WORKER_NICENESS)
    finally:
        scheduler.shutdown()


def test_a_step_that_ran_beside_the_sprinter_does_not_measure_speed():
    scheduler = Scheduler(1)
    try:
        before = scheduler.speeds.factor("piper")
        started, release = threading.Event(), threading.Event()

        def window() -> float:
            started.set()
            release.wait(5)
            return 1.0

        measured = scheduler.submit(window, measure=lambda seconds: ("piper", seconds))
        assert started.wait(5)
        scheduler.submit(lambda: None, first=True).result(5)  # the sprinter runs meanwhile
        release.set()
        measured.result(5)
        assert scheduler.speeds.factor("piper") == before
    finally:
        scheduler.shutdown()


def test_a_step_that_ran_beside_a_two_core_step_does_not_measure_speed():
    scheduler = Scheduler(2)
    try:
        _wait_until_idle(scheduler)
        before = scheduler.speeds.factor("piper")
        started, release = threading.Event(), threading.Event()

        def wide() -> int:
            started.set()
            release.wait(5)
            return cores()

        running = scheduler.submit(wide)  # the other worker is idle: two cores
        assert started.wait(5)
        measured = scheduler.submit(lambda: 1.0, measure=lambda seconds: ("piper", seconds))
        assert measured.result(5) == 1.0
        release.set()
        assert running.result(5) == 2
        assert scheduler.speeds.factor("piper") == before
    finally:
        scheduler.shutdown()


# --- Measured speeds --------------------------------------------------------------------------------


def test_engine_speeds_start_from_priors_and_follow_measured_steps():
    speeds = EngineSpeeds()
    assert speeds.factor("kokoro") == PRIORS["kokoro"]
    for _ in range(200):
        speeds.record("kokoro", busy=0.5, audio=1.0)
    assert speeds.factor("kokoro") == pytest.approx(0.5, abs=0.01)
    speeds.record("kokoro", busy=5.0, audio=0.0)  # a step with no audio says nothing about speed
    assert speeds.factor("kokoro") == pytest.approx(0.5, abs=0.01)


def test_a_speed_measured_alone_at_start_up_replaces_the_prior_scaled_for_a_busy_machine():
    speeds = EngineSpeeds()
    speeds.start_from("kokoro", busy=6.0, audio=3.0)  # a first run, slowed by one-time costs
    assert speeds.factor("kokoro") == pytest.approx(CROWDING * 2.0)
    speeds.start_from("kokoro", busy=2.0, audio=3.0)  # a machine half as fast as the prior's
    assert speeds.factor("kokoro") == pytest.approx(CROWDING * 2.0 / 3.0)
    speeds.start_from("kokoro", busy=2.5, audio=3.0)  # the fastest run counts
    assert speeds.factor("kokoro") == pytest.approx(CROWDING * 2.0 / 3.0)
    speeds.start_from("piper", busy=1.0, audio=0.0)
    assert speeds.factor("piper") == PRIORS["piper"]


def test_jobs_measure_their_engines_speed(scheduler):
    job = Job(scheduler, 0, Playback(live=False), engine="piper")

    def window() -> float:
        time.sleep(0.05)
        return 1.0  # one second of audio in 50 ms

    before = scheduler.speeds.factor("piper")
    for _ in range(20):
        job.submit(window, lambda seconds: seconds).result(5)
    after = scheduler.speeds.factor("piper")
    assert abs(after - 0.05) < abs(before - 0.05)


def test_a_step_gets_a_second_core_only_while_another_worker_is_idle():
    scheduler = Scheduler(2)
    try:
        _wait_until_idle(scheduler)
        assert scheduler.submit(cores).result(5) == 2  # due now, the other worker idle
        assert scheduler.submit(cores, deadline=time.monotonic() + 0.2).result(5) == 2  # picked early
        assert scheduler.submit(cores, deadline=BACKGROUND).result(5) == 1
        release = threading.Event()
        running = threading.Event()
        scheduler.submit(lambda: (running.set(), release.wait(10)))
        assert running.wait(5)
        assert scheduler.submit(cores).result(5) == 1  # the other worker is busy
        release.set()
    finally:
        scheduler.shutdown()
    with granted(2):
        assert cores() == 2
        with granted(5):
            assert cores() == 2  # no engine splits a call further
    assert cores() == 1


def test_among_due_steps_of_one_priority_a_playing_listener_goes_before_a_new_one(scheduler):
    release = _occupy(scheduler)
    now = time.monotonic()
    order: list[str] = []
    futures = [
        scheduler.submit(lambda n=name: order.append(n), deadline=deadline, priority=priority, first=first)
        for name, deadline, priority, first in [
            ("new", now - 1.0, 0, True),  # a listener with nothing yet, waiting for a second
            ("playing", now - 0.1, 0, False),  # a listener about to run out
            ("new, higher priority", now - 0.5, 1, True),
        ]
    ]
    release.set()
    for future in futures:
        future.result(5)
    assert order == ["new, higher priority", "playing", "new"]


def test_only_steps_run_beside_busy_workers_measure_speed():
    scheduler = Scheduler(2)
    try:
        job = Job(scheduler, 0, Playback(live=False), engine="piper")

        def window() -> float:
            time.sleep(0.02)
            return 1.0

        _wait_until_idle(scheduler)
        before = scheduler.speeds.factor("piper")
        for _ in range(5):  # the other worker idles (so these run on two cores)
            ahead = time.monotonic() + 10
            scheduler.submit(window, deadline=ahead, measure=lambda seconds: ("piper", seconds)).result(5)
        assert scheduler.speeds.factor("piper") == before
        release, running = threading.Event(), threading.Event()
        # Background work runs on one core: the other worker is then busy as another request's is.
        scheduler.submit(lambda: (running.set(), release.wait(10)), deadline=BACKGROUND)
        assert running.wait(5)
        for _ in range(5):  # the other worker is busy: as admission sees a full machine
            job.submit(window, lambda seconds: seconds).result(5)
        release.set()
        assert scheduler.speeds.factor("piper") != before
    finally:
        scheduler.shutdown()

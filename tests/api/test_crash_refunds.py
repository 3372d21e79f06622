"""kill -9 in the middle of a charged request: the next server on the database gives its credits back
(nothing was delivered), while a live replica's request in flight keeps its charge."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.api.holds import BRIAN, FLASH, SENTENCE, say
from tests.api.server import Server, create_key, serving
from tests.shared_services import postgres_database, redis_url

pytestmark = pytest.mark.slow

LEASE = 2  # seconds (INTONE_CHARGE_LEASE): short, so the test need not wait a minute
LONG = SENTENCE * 40  # minutes of speech: still being synthesized when its server is killed
LONG_CREDITS = (len(LONG) + 1) // 2  # flash costs half a credit per character
HI_CREDITS = 2  # "Hi."


def _used(server: Server, key: str) -> int:
    subscription = httpx.get(f"{server.url}/v1/user/subscription", headers={"xi-api-key": key}, timeout=10)
    return subscription.json()["character_count"]


def _wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _in_background(call: Callable[[], object]) -> None:
    """Runs a request whose server is about to die in a thread: its failure is the point, not an error."""

    def quietly() -> None:
        with contextlib.suppress(httpx.HTTPError):
            call()

    threading.Thread(target=quietly, daemon=True).start()


def _kill(server: Server) -> None:
    server.process.kill()  # SIGKILL: the process settles nothing
    server.process.wait()


def test_a_request_cut_by_kill_9_gets_its_credits_back_on_restart(tmp_path: Path):
    env = {"INTONE_WARM_UP": "false", "INTONE_CHARGE_LEASE": str(LEASE)}
    with serving(tmp_path, env=env) as doomed:
        key = create_key(doomed.env, "cut-short")
        assert say(doomed, key).status_code == 200  # delivered: stays charged
        _in_background(lambda: say(doomed, key, FLASH, LONG))
        _wait_until(lambda: _used(doomed, key) == HI_CREDITS + LONG_CREDITS, 60, "never charged")
        _kill(doomed)
    with serving(tmp_path, env=env) as restarted:
        _wait_until(lambda: _used(restarted, key) == HI_CREDITS, LEASE + 10, "the credits never came back")
        assert "gave back 1 pending charges" in restarted.log_text()


def test_a_replica_restarting_gives_back_only_a_dead_replicas_charges(tmp_path_factory):
    with postgres_database() as database:
        env = {
            "INTONE_DATABASE_URL": database,
            "INTONE_REDIS_URL": redis_url(),
            "INTONE_WARM_UP": "false",
            "INTONE_CHARGE_LEASE": str(LEASE),
        }
        live_dir, doomed_dir = tmp_path_factory.mktemp("live"), tmp_path_factory.mktemp("doomed")
        with serving(live_dir, env=env) as live:
            live_key, doomed_key = create_key(live.env, "live"), create_key(live.env, "doomed")
            listening, done = threading.Event(), threading.Event()

            def listen() -> None:
                """A stream the client keeps reading (paced to real time: minutes) until told to stop."""
                body = {"text": LONG, "model_id": FLASH, "language_code": "en"}
                url = f"{live.url}/v1/text-to-speech/{BRIAN}/stream"
                headers = {"xi-api-key": live_key}
                with httpx.stream("POST", url, headers=headers, json=body, timeout=60) as response:
                    for _ in response.iter_bytes():
                        listening.set()
                        if done.is_set():
                            return

            listener = threading.Thread(target=listen, daemon=True)
            listener.start()
            assert listening.wait(60), "the live replica's stream never started"
            with serving(doomed_dir, env=env) as doomed:
                _in_background(lambda: say(doomed, doomed_key, FLASH, LONG))
                _wait_until(lambda: _used(live, doomed_key) == LONG_CREDITS, 60, "never charged")
                _kill(doomed)
            with serving(doomed_dir, env=env) as restarted:
                _wait_until(lambda: _used(restarted, doomed_key) == 0, LEASE + 10, "never given back")
                time.sleep(2 * LEASE)  # several more sweeps, by both replicas
                assert listener.is_alive(), "the live stream ended early"
                assert _used(restarted, live_key) == LONG_CREDITS  # in flight on a live replica: charged
            done.set()
            listener.join(30)
            assert not listener.is_alive()
            assert _used(live, live_key) == LONG_CREDITS  # its audio went out: kept

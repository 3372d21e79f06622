"""Engine work by deadline, end to end with the real engines: a short request overtakes long streams
that are ahead of their listeners (Piper streams: that engine decodes in windows)."""

from __future__ import annotations

import bisect
import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest

from intone.speech.windows import LARGEST
from tests.api.holds import BRIAN, FLASH, SENTENCE
from tests.api.server import Server

pytestmark = pytest.mark.slow

# Piper decodes in windows; at about 0.05 s of engine time per second of audio, 80 s of speech is
# seconds of work per stream.
LONG = SENTENCE * 16
BYTES_PER_SECOND = 2 * 24_000


@dataclass
class Progress:
    """When each piece of a stream's audio arrived, and how much audio there was by then."""

    times: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    started: threading.Event = field(default_factory=threading.Event)

    def at(self, moment: float) -> float:
        index = bisect.bisect_right(self.times, moment)
        return self.seconds[index - 1] if index else 0.0


def _stream(server: Server, progress: Progress) -> None:
    received = 0
    with httpx.stream(
        "POST",
        f"{server.url}/v1/text-to-speech/{BRIAN}/stream",
        headers=server.headers,
        params={"output_format": "pcm_24000"},
        json={"text": LONG, "model_id": FLASH, "language_code": "en"},
        timeout=300,
    ) as response:
        assert response.status_code == 200, response.read()
        for data in response.iter_raw():
            received += len(data)
            progress.times.append(time.monotonic())
            progress.seconds.append(received / BYTES_PER_SECOND)
            progress.started.set()


def test_a_short_request_waits_for_at_most_a_window_per_worker_not_for_long_streams_chunks(
    server: Server,
) -> None:
    """While the short request is served, the long streams get only the windows already running and
    the one each worker finishes meanwhile: a few windows, not the seconds of queued work in front of
    it that first come, first served would make it wait for. Counted in audio, not in time."""
    streams = [Progress() for _ in range(3)]
    threads = [threading.Thread(target=_stream, args=(server, progress)) for progress in streams]
    for thread in threads:
        thread.start()
    try:
        assert all(progress.started.wait(120) for progress in streams)
        sent = time.monotonic()
        response = httpx.post(
            f"{server.url}/v1/text-to-speech/{BRIAN}",
            headers=server.headers,
            params={"output_format": "pcm_16000"},
            json={"text": "Hi there.", "model_id": FLASH, "language_code": "en"},
            timeout=120,
        )
        answered = time.monotonic()
        assert response.status_code == 200 and len(response.content) > 8000
    finally:
        for thread in threads:
            thread.join(300)
    meanwhile = sum(progress.at(answered) - progress.at(sent) for progress in streams)
    # Two workers, each finishing the window it ran and one more: four windows of at most 1.5 x LARGEST.
    assert meanwhile <= 4 * 1.5 * LARGEST
    assert all(progress.at(answered) < progress.seconds[-1] for progress in streams)  # still speaking

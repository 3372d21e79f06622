"""Long requests that keep places taken while they are synthesized, and short ones that need a place,
for the tests of concurrency limits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.api.server import Server

BRIAN = "nPczCjzI2devNBz1zQrb"  # an American man: Piper speaks him on the fast models
FLASH = "eleven_flash_v2"
MULTILINGUAL = "eleven_multilingual_v2"
SENTENCE = "The quick brown fox jumps over the lazy dog, and then it runs far away into the woods. "


def say(server: Server, key: str, model: str = FLASH, text: str = "Hi.") -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/text-to-speech/{BRIAN}",
        headers={"xi-api-key": key},
        params={"output_format": "pcm_16000"},
        # A given language: no request waits for the language detector to load on a server without
        # warm-up, so the holds below are admitted within their grace time.
        json={"text": text, "model_id": model, "language_code": "en"},
        timeout=300,
    )


@contextmanager
def holding(
    server: Server, key: str, sentences: list[int], model: str = MULTILINGUAL
) -> Iterator[list[httpx.Response]]:
    """One request per entry, that many sentences long, each holding a place for as long as it is
    synthesized (Kokoro: seconds per sentence). The block starts once they have all been admitted;
    the list fills with their responses as they finish."""
    responses: list[httpx.Response] = []
    threads = [
        threading.Thread(target=lambda n=n: responses.append(say(server, key, model, SENTENCE * n)))
        for n in sentences
    ]
    for thread in threads:
        thread.start()
    time.sleep(1.5)  # admitted: a place is taken at once when one is free
    try:
        yield responses
    finally:
        for thread in threads:
            thread.join(300)

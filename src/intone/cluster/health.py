"""Whether Redis answers, and the one error every request that needs it gets while it does not."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from intone.speech.errors import SpeechError

log = logging.getLogger("intone.cluster")

PING_TIMEOUT_S = 1.0  # /ready must answer quickly, even when Redis's host swallows packets


class RedisUnavailable(SpeechError):
    """Redis does not answer: the server's fault, a 503 (`service_unavailable`) to the client."""

    status = "service_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "This server cannot reach Redis, which it needs to share concurrency limits and single-use "
            "tokens with its replicas. The server's operator must bring Redis back; retry later."
        )


@contextmanager
def needing_redis() -> Iterator[None]:
    """Turns Redis not answering (refused, reset, timed out) into `RedisUnavailable`."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError) as error:
        log.warning("Redis does not answer: %s", error)
        raise RedisUnavailable() from error


def redacted_url(url: str) -> str:
    """`url` with its password, if any, replaced, for the log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:[redacted]@{host}"))


class RedisHealth:
    """Pings Redis for `/ready` and at start. The client stays the caller's."""

    def __init__(self, client: redis.Redis, url: str) -> None:
        self._client = client
        self.url = redacted_url(url)

    async def answers(self) -> bool:
        try:
            async with asyncio.timeout(PING_TIMEOUT_S):
                await self._client.ping()
        except (RedisError, TimeoutError, OSError):
            return False
        return True

    async def check_at_start(self) -> None:
        """Says so once if Redis does not answer; the server starts anyway, not ready until it does, so
        it recovers by itself when Redis comes back instead of exiting and restarting in a loop."""
        if not await self.answers():
            log.error(
                "Redis at %s does not answer: /ready says 503, and requests that need it (synthesis, "
                "single-use tokens) get 503, until it does",
                self.url,
            )

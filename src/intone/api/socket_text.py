"""What a realtime socket may hold waiting to be spoken.

Text a client sends waits (in the stream's buffer, then as segments) until it is synthesized, and each
segment is charged only when its turn comes. Without a bound a client could push text far faster than
it is spoken, and an over-quota key would only learn so segments later. So a message is refused at once
when it would take the socket's waiting text past `INTONE_MAX_SOCKET_TEXT` characters (all contexts
together), or when what its waiting text will cost is more than the key has left of its quota.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from intone.api.errors import ApiError
from intone.api.realtime import RealtimeStream
from intone.api.state import Services


async def check_waiting(
    svc: Services, streams: Iterable[RealtimeStream], target: RealtimeStream, text: str
) -> None:
    """Raises ApiError when `text`, added to `target` (one of the socket's `streams`), would be too much
    waiting: 413 `text_backlog_exceeded`, or 401 `quota_exceeded`."""
    streams = list(streams)
    limit = svc.settings.max_socket_text
    waiting = sum(stream.waiting for stream in streams) + len(text)
    if waiting > limit:
        raise ApiError(
            413,
            "text_backlog_exceeded",
            f"A socket may hold at most {limit} characters waiting to be spoken; this message would make "
            f"it {waiting}. Send text about as fast as it is spoken: wait for audio before sending more.",
        )
    if text:
        await _check_quota(svc, streams, target, len(text))


async def _check_quota(
    svc: Services, streams: list[RealtimeStream], target: RealtimeStream, extra: int
) -> None:
    caller = target.caller
    limit = caller.character_limit
    if limit is None:
        return
    needed = sum(stream.credits_waiting(extra if stream is target else 0) for stream in streams)
    # Read for every message that brings text (only keys with a quota pay for it): the key's other
    # sockets and replicas, and this socket's own segments, spend meanwhile.
    used = await asyncio.to_thread(svc.store.usage.get, caller.subject)
    if used + needed > limit:
        raise ApiError(
            401,
            "quota_exceeded",
            f"This text exceeds your quota of {limit}. You have {max(0, limit - used)} credits remaining, "
            f"while the text waiting to be spoken needs {needed} credits.",
        )

"""Gates in Redis: the contract of `intone.admission.gates.LocalGates`, shared by every replica.

Each request gets a ticket: its arrival number from one Redis counter, then a random suffix, so a
ticket stays unique even after Redis restarts (and the counter with it). Per gate (keys share a hash tag):

- `holders`: sorted set, ticket -> when its lease ends (ms, Redis clock);
- `queue`: sorted set, ticket -> minus its priority; equal scores sort by member, and tickets are
  zero-padded arrival numbers, so the queue is highest priority first, first come first served;
- `leases`: sorted set, waiting ticket -> when its lease ends (short: live waiters renew it whenever
  they ask again, so a dead replica's waiters stop blocking the queue within a second or two);
- `limit`: the limit the newest arrival brought (a key moved up a tier lets its waiters in).

One Lua script decides atomically: it drops expired holders and waiters, so the places of a replica
killed with -9 come back within a lease, then admits the ticket if it is among the first
`limit - holders` in the queue. Waiters ask again every few tens of milliseconds, which also renews
their lease; a background task renews each place held until it is released.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time

import redis.asyncio as redis

from intone.admission.gates import GateFull, GateTimeout, Hold
from intone.cluster.health import needing_redis

log = logging.getLogger("intone.cluster")

_PURGE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local holders, queue, leases = KEYS[1], KEYS[2], KEYS[3]
redis.call('ZREMRANGEBYSCORE', holders, '-inf', now)
for _, lapsed in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', now)) do
  redis.call('ZREM', queue, lapsed)
end
redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
"""

# KEYS: holders, queue, leases, limit. ARGV: ticket, limit, lease (ms), max waiting, minus the priority,
# 1 when the ticket arrives (0 when it asks again), a waiter's lease (ms). Returns the holders counting it
# once admitted, 0 while it waits, -1 when the queue is full.
_DECIDE = (
    _PURGE
    + """
local ticket, lease, max_waiting = ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[4])
local limit
if ARGV[6] == '1' then
  limit = tonumber(ARGV[2])
  redis.call('SET', KEYS[4], limit)
else
  limit = tonumber(redis.call('GET', KEYS[4]) or ARGV[2])
end
local function finish(result)
  -- A gate nobody uses any more vanishes: live holders and waiters keep pushing this back.
  for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, 2 * lease) end
  return result
end
local inside = redis.call('ZCARD', holders)
local rank = redis.call('ZRANK', queue, ticket)
if not rank then
  local waiting = redis.call('ZCARD', queue)
  if waiting >= max_waiting and (waiting > 0 or inside >= limit) then
    return finish(-1)
  end
  redis.call('ZADD', queue, ARGV[5], ticket)
  rank = redis.call('ZRANK', queue, ticket)
end
if rank < limit - inside then
  redis.call('ZREM', queue, ticket)
  redis.call('ZREM', leases, ticket)
  redis.call('ZADD', holders, now + lease, ticket)
  return finish(inside + 1)
end
redis.call('ZADD', leases, now + tonumber(ARGV[7]), ticket)
return finish(0)
"""
)

# KEYS: holders, queue, leases. Returns {holders, waiting}, expired ones left out.
_COUNT = _PURGE + "return {redis.call('ZCARD', holders), redis.call('ZCARD', queue)}"

# KEYS: holders. ARGV: ticket, lease (ms). Returns 0 when the place was lost (its lease had run out).
_RENEW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
return 1
"""

_POLL_S = 0.025  # how often a waiter asks again, so how late it may notice a free place
LEASE_MS = 15_000  # how long a killed replica's places stay taken
WAITER_LEASE_MS = 2_000  # how long a killed replica's waiters stay queued


class RedisGates:
    """Gates in Redis. The client stays the caller's: `close` does not close it."""

    def __init__(
        self, client: redis.Redis, max_waiting: int, prefix: str = "intone:", lease_ms: int = LEASE_MS
    ) -> None:
        self.max_waiting = max_waiting
        self._client = client
        self._prefix = prefix
        self._lease_ms = lease_ms
        self._waiter_lease_ms = min(lease_ms, WAITER_LEASE_MS)
        self._decide = client.register_script(_DECIDE)
        self._count = client.register_script(_COUNT)
        self._renew = client.register_script(_RENEW)
        self._held: dict[str, tuple[list[str], asyncio.Task[None]]] = {}  # ticket -> gate keys, renewal

    def _keys(self, name: str) -> list[str]:
        base = f"{self._prefix}gate:{{{name}}}"  # one hash tag: a Redis Cluster keeps a gate on one node
        return [f"{base}:holders", f"{base}:queue", f"{base}:leases", f"{base}:limit"]

    async def inside(self, name: str) -> int:
        with needing_redis():
            return int((await self._count(keys=self._keys(name)[:3]))[0])

    async def waiting(self, name: str) -> int:
        with needing_redis():
            return int((await self._count(keys=self._keys(name)[:3]))[1])

    async def acquire(self, name: str, limit: int, priority: int, deadline: float) -> Hold:
        keys = self._keys(name)
        with needing_redis():
            arrival = await self._client.incr(self._prefix + "arrivals")
            ticket = f"{arrival:020d}-{secrets.token_hex(4)}"
            try:
                current = await self._wait(name, keys, ticket, limit, priority, deadline)
            except GateFull:
                raise  # never queued
            except BaseException:
                # Timed out, cancelled, or Redis failed after the script ran: leave the queue (or the place
                # just given). Shielded, so a second cancellation cannot leave the ticket there until its
                # lease runs out.
                with contextlib.suppress(redis.RedisError):
                    await asyncio.shield(self._leave(keys, ticket))
                raise
        renewal = asyncio.create_task(self._keep(keys[0], ticket), name=f"gate lease {name}")
        self._held[ticket] = (keys, renewal)

        async def release() -> None:
            self._held.pop(ticket, None)
            renewal.cancel()
            # Shielded: a request cancelled as it ends must still give its place back now, not in 15 s.
            await asyncio.shield(self._give_back(keys, ticket))

        return Hold(current, release)

    async def _wait(
        self, name: str, keys: list[str], ticket: str, limit: int, priority: int, deadline: float
    ) -> int:
        arriving = 1
        while True:
            args = [
                ticket,
                limit,
                self._lease_ms,
                self.max_waiting,
                -priority,
                arriving,
                self._waiter_lease_ms,
            ]
            current = int(await self._decide(keys=keys, args=args))
            if current > 0:
                return current
            if current < 0:
                raise GateFull(name)
            arriving = 0
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise GateTimeout(name)
            await asyncio.sleep(min(_POLL_S, remaining))

    async def _keep(self, holders: str, ticket: str) -> None:
        """Renew a held place's lease, three times a lease, so a single failed renewal costs nothing."""
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            try:
                if not await self._renew(keys=[holders], args=[ticket, self._lease_ms]):
                    log.warning("a place in %s outlived its lease and was given to another request", holders)
                    return
            except redis.RedisError as error:
                log.warning("could not renew a place in %s: %s", holders, error)

    async def _leave(self, keys: list[str], ticket: str) -> None:
        # From the queue and the holders both: a wait cancelled just as the script admitted it.
        async with self._client.pipeline(transaction=True) as pipe:
            for key in keys[:3]:
                pipe.zrem(key, ticket)
            await pipe.execute()

    async def _give_back(self, keys: list[str], ticket: str) -> None:
        """Leave a place held; should Redis not answer, its lease, no longer renewed, frees it soon."""
        try:
            await self._leave(keys, ticket)
        except redis.RedisError as error:
            log.warning("could not give back a place in %s, its lease will: %s", keys[0], error)

    async def close(self) -> None:
        """Stop renewing, and give back the places still held: this process is going away."""
        held, self._held = self._held, {}
        for _, renewal in held.values():
            renewal.cancel()
        for _, renewal in held.values():
            with contextlib.suppress(asyncio.CancelledError):
                await renewal
        for ticket, (keys, _) in held.items():
            await self._give_back(keys, ticket)

"""Single-use tokens in Redis, so a token made on one replica opens a socket on any other, once."""

from __future__ import annotations

import json
from datetime import timedelta

import redis

from intone.accounts.secrets import TOKEN_PREFIX, hash_secret, new_secret
from intone.cluster.health import needing_redis


class RedisTokens:
    """Each token is one key, named by the token's hash and expiring with it. The client stays the
    caller's to close."""

    def __init__(self, client: redis.Redis, prefix: str = "intone:") -> None:
        self._client = client
        self._prefix = prefix

    def _key(self, token: str) -> str:
        return f"{self._prefix}token:{hash_secret(token)}"

    def issue(self, key_id: str, token_type: str, ttl: timedelta) -> str:
        token = new_secret(TOKEN_PREFIX)
        with needing_redis():
            self._client.set(
                self._key(token), json.dumps([key_id, token_type]), px=ttl // timedelta(milliseconds=1)
            )
        return token

    def redeem(self, token: str) -> tuple[str, str] | None:
        """(key id, token type) for a live token, spent by this call; None otherwise.

        GETDEL reads and deletes in one command, so of two redeemers racing for one token only one gets it.
        """
        with needing_redis():
            value = self._client.getdel(self._key(token))
        if value is None:
            return None
        key_id, token_type = json.loads(value)
        return key_id, token_type

"""Single-use tokens, in Redis (replicas) and in the database (one server): each redeemable once."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from intone.accounts.secrets import hash_secret
from intone.api.state import TokenStore
from intone.cluster.tokens import RedisTokens
from intone.store.database import Store
from tests.shared_services import redis_url

REDEEMERS = 50


@pytest.fixture
def redis_tokens() -> Iterator[RedisTokens]:
    url, prefix = redis_url(), f"intone-test:{secrets.token_hex(6)}:"
    client = redis.Redis.from_url(url)
    try:
        yield RedisTokens(client, prefix)
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def database_tokens(tmp_path: Path) -> Iterator[TokenStore]:
    store = Store(f"sqlite:///{tmp_path / 'intone.db'}")
    store.migrate()
    try:
        yield store.tokens
    finally:
        store.close()


@pytest.fixture(params=["redis", "database"])
def tokens(request: pytest.FixtureRequest) -> TokenStore:
    return request.getfixturevalue(f"{request.param}_tokens")


def test_a_token_redeems_once_for_its_key_and_type(tokens: TokenStore):
    token = tokens.issue("key_1", "tts_websocket", timedelta(minutes=15))
    other = tokens.issue("key_2", "realtime_scribe", timedelta(minutes=15))
    assert tokens.redeem(token) == ("key_1", "tts_websocket")
    assert tokens.redeem(token) is None
    assert tokens.redeem(other) == ("key_2", "realtime_scribe")


def test_an_unknown_token_redeems_nothing(tokens: TokenStore):
    assert tokens.redeem("sutkn_" + secrets.token_hex(24)) is None


def test_an_expired_token_redeems_nothing(tokens: TokenStore):
    token = tokens.issue("key_1", "tts_websocket", timedelta(milliseconds=100))
    time.sleep(0.3)
    assert tokens.redeem(token) is None


def test_of_concurrent_redeemers_exactly_one_wins(tokens: TokenStore):
    token = tokens.issue("key_1", "tts_websocket", timedelta(minutes=15))
    start = threading.Barrier(REDEEMERS)

    def redeem() -> tuple[str, str] | None:
        start.wait(timeout=10)
        return tokens.redeem(token)

    with ThreadPoolExecutor(REDEEMERS) as pool:
        results = list(pool.map(lambda _: redeem(), range(REDEEMERS)))
    assert [result for result in results if result is not None] == [("key_1", "tts_websocket")]


def test_tokens_live_under_the_prefix_named_by_their_hash():
    url, prefix = redis_url(), f"intone-test:{secrets.token_hex(6)}:"
    client = redis.Redis.from_url(url)
    try:
        token = RedisTokens(client, prefix).issue("key_1", "tts_websocket", timedelta(minutes=15))
        assert token.startswith("sutkn_")
        keys = list(client.scan_iter(f"{prefix}*"))
        assert keys == [f"{prefix}token:{hash_secret(token)}".encode()]  # the token itself is not stored
        assert 0 < client.pttl(keys[0]) <= 15 * 60 * 1000
        client.delete(*keys)
    finally:
        client.close()

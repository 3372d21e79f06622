"""Keys, quota charging and what a key takes along when it goes, in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from intone.accounts.scopes import DEFAULT_SCOPES, Scope
from intone.speech.lexicon import AliasRule
from intone.store.database import Store
from intone.store.history import HistoryQuery, NewItem
from intone.store.tables import DictionaryVersionRow

# A NewItem but for its owner and audio, as JSON can carry it to the kill -9 script.
ITEM = {
    "history_item_id": "item1",
    "request_id": "request1",
    "voice_id": "george",
    "voice_name": "George",
    "voice_category": "premade",
    "model_id": "eleven_flash_v2",
    "text": "Hello.",
    "characters": 6,
    "character_count_change_from": 0,
    "character_count_change_to": 6,
    "settings": {},
    "output_format": "mp3_44100_128",
    "content_type": "audio/mpeg",
    "source": "TTS",
}


def test_a_key_is_found_by_its_secret_only(store: Store) -> None:
    key, secret = store.keys.create("ci", frozenset({Scope.TEXT_TO_SPEECH}), 500, "free")
    found = store.keys.authenticate(secret)
    assert found == key
    assert found.scopes == {Scope.TEXT_TO_SPEECH} and found.character_limit == 500 and found.tier == "free"
    assert store.keys.authenticate(secret[:-1] + ("0" if secret[-1] != "0" else "1")) is None
    assert secret not in repr(store.keys.list())  # only the hint is kept
    assert key.hint.startswith(secret[:7]) and key.hint.endswith(secret[-4:])


def test_keys_change_and_go(store: Store) -> None:
    key, secret = store.keys.create("ops", DEFAULT_SCOPES, None, "pro")
    assert store.keys.any_enabled()
    changed = store.keys.update(key.key_id, {"disabled": True, "character_limit": 10, "tier": "scale"})
    assert changed is not None and (changed.disabled, changed.character_limit, changed.tier) == (
        True,
        10,
        "scale",
    )
    assert not store.keys.any_enabled()
    assert store.keys.update(key.key_id, {"character_limit": None}).character_limit is None
    assert store.keys.update("key_missing", {"disabled": True}) is None
    assert store.keys.delete(key.key_id) and not store.keys.delete(key.key_id)
    assert store.keys.authenticate(secret) is None


def test_a_deleted_key_takes_its_history_along_but_not_its_usage(store: Store) -> None:
    key, _ = store.keys.create("gone", DEFAULT_SCOPES, None, "pro")
    other, _ = store.keys.create("stays", DEFAULT_SCOPES, None, "pro")
    store.history.record(NewItem(**ITEM, owner=key.key_id, audio=b"mp3"))
    store.history.record(NewItem(**ITEM | {"history_item_id": "item2"}, owner=other.key_id, audio=b"mp3"))
    store.usage.charge(key.key_id, 6, None)
    assert store.keys.delete(key.key_id)
    assert store.history.page(key.key_id, HistoryQuery()).items == []
    assert store.history.audio(key.key_id, "item1") is None
    assert store.history.get(other.key_id, "item2") is not None
    assert store.usage.get(key.key_id) == 6
    # Deleting no key deletes no history, even history whose owner has that name (not a key's).
    store.history.record(NewItem(**ITEM | {"history_item_id": "item3"}, owner="local", audio=b"mp3"))
    assert not store.keys.delete("local") and store.history.get("local", "item3") is not None


def test_a_deleted_key_takes_its_pronunciation_dictionaries_along(store: Store) -> None:
    key, _ = store.keys.create("gone", DEFAULT_SCOPES, None, "pro")
    other, _ = store.keys.create("stays", DEFAULT_SCOPES, None, "pro")
    rules = [AliasRule("Intone", "in tone")]
    mine = store.dictionaries.create(key.key_id, "mine", None, rules)
    store.dictionaries.revise(
        key.key_id, mine.dictionary_id, lambda rules: (*rules, AliasRule("SQL", "sequel"))
    )
    theirs = store.dictionaries.create(other.key_id, "theirs", None, rules)
    assert store.keys.delete(key.key_id)
    assert store.dictionaries.get(key.key_id, mine.dictionary_id) is None
    with store._engine.connect() as conn:  # no version is left behind either, on any database
        left = conn.execute(select(DictionaryVersionRow.dictionary_id)).scalars().all()
    assert set(left) == {theirs.dictionary_id}
    assert store.dictionaries.version(other.key_id, theirs.dictionary_id) is not None


def test_charges_stop_exactly_at_the_limit(store: Store) -> None:
    assert store.usage.charge("k", 60, 100) == 60
    assert store.usage.charge("k", 50, 100) is None
    assert store.usage.get("k") == 60
    assert store.usage.charge("k", 40, 100) == 100
    assert store.usage.charge("k", 1, 100) is None
    assert store.usage.charge("fresh", 101, 100) is None  # a first charge over the limit creates nothing
    assert store.usage.get("fresh") == 0
    assert store.usage.charge("open", 10**9, None) == 10**9


def test_fifty_parallel_charges_never_overspend(store: Store) -> None:
    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(lambda _: store.usage.charge("busy", 7, 100), range(50)))
    granted = [total for total in results if total is not None]
    assert len(granted) == 100 // 7
    assert sorted(granted) == [7 * n for n in range(1, len(granted) + 1)]
    assert store.usage.get("busy") == 7 * len(granted)


def test_committed_keys_usage_and_history_survive_kill_9(database_url: str) -> None:
    Store(database_url).migrate()
    script = (
        "import json, sys, time\n"
        "from intone.accounts.scopes import DEFAULT_SCOPES\n"
        "from intone.store.database import Store\n"
        "from intone.store.history import NewItem\n"
        "store = Store(sys.argv[1])\n"
        "key, _ = store.keys.create('survivor', DEFAULT_SCOPES, 1000, 'pro')\n"
        "store.usage.charge(key.key_id, 123, 1000)\n"
        "store.history.record(NewItem(**json.loads(sys.argv[2]), owner=key.key_id, audio=b'mp3'))\n"
        "print(key.key_id, flush=True)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, database_url, json.dumps(ITEM)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    key_id = process.stdout.readline().strip()
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    reopened = Store(database_url)
    try:
        assert reopened.keys.get(key_id) is not None
        assert reopened.usage.get(key_id) == 123
        item = reopened.history.get(key_id, "item1")
        assert item is not None and item.text == "Hello." and item.audio_kept
        assert reopened.history.audio(key_id, "item1").data == b"mp3"
    finally:
        reopened.close()

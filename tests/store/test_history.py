"""The generation history in the store, on SQLite and PostgreSQL: recording, listing, owners, pruning."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, select

from intone.store.database import Store
from intone.store.history import (
    History,
    HistoryQuery,
    NewItem,
    Retention,
    UnknownHistoryItem,
    UnknownRequestIds,
)
from intone.store.tables import HistoryRow
from tests.store.migrating import migrate

START = datetime(2026, 1, 1, tzinfo=UTC)
UNLIMITED = 10**12
FOREVER = timedelta(days=100_000)


class Clock:
    """A time that moves only when told to."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def history(store: Store, clock: Clock) -> History:
    return History(store._engine, Retention(UNLIMITED, FOREVER), clock)


def _limited(
    store: Store, clock: Clock, max_audio_bytes: int = UNLIMITED, max_age: timedelta = FOREVER
) -> History:
    """The history as a server with these limits sees it (on the same database as the others)."""
    return History(store._engine, Retention(max_audio_bytes, max_age), clock)


def _item(number: int, owner: str = "alice", **changes: Any) -> NewItem:
    item = NewItem(
        history_item_id=f"item{number:03d}",
        owner=owner,
        request_id=f"request{number:03d}",
        voice_id="george",
        voice_name="George",
        voice_category="premade",
        model_id="eleven_flash_v2",
        text=f"Text number {number}.",
        characters=15,
        character_count_change_from=0,
        character_count_change_to=15,
        settings={"stability": 0.5},
        output_format="mp3_44100_128",
        content_type="audio/mpeg",
        source="TTS",
        audio=bytes([number % 256]) * 10,
    )
    return replace(item, **changes)


def _record(
    history: History, clock: Clock, items: list[NewItem], every: timedelta = timedelta(seconds=1)
) -> None:
    for item in items:
        history.record(item)
        clock.advance(every)


def _ids(history: History, owner: str = "alice", **query: Any) -> list[str]:
    page = history.page(owner, HistoryQuery(**query))
    return [item.history_item_id for item in page.items]


def _kept(history: History, owner: str = "alice") -> list[str]:
    """The owner's items whose audio is served, oldest first."""
    page = history.page(owner, HistoryQuery(page_size=1000, ascending=True))
    return [item.history_item_id for item in page.items if item.audio_kept]


def _stored(store: Store) -> list[str]:
    """Every item whose audio is still in the database (kept or not yet pruned), oldest first."""
    query = select(HistoryRow.history_item_id).where(HistoryRow.audio.is_not(None))
    with store._engine.connect() as conn:
        return sorted(conn.execute(query).scalars())


def test_an_item_is_kept_as_recorded(history: History, clock: Clock) -> None:
    history.record(_item(1, settings={"stability": 0.25, "speed": 1.1}))
    item = history.get("alice", "item001")
    assert item is not None
    assert (item.request_id, item.voice_id, item.voice_name, item.model_id) == (
        "request001",
        "george",
        "George",
        "eleven_flash_v2",
    )
    assert item.settings == {"stability": 0.25, "speed": 1.1}
    assert (item.text, item.source, item.output_format, item.content_type) == (
        "Text number 1.",
        "TTS",
        "mp3_44100_128",
        "audio/mpeg",
    )
    assert item.created_at == START and item.audio_kept
    audio = history.audio("alice", "item001")
    assert audio is not None and audio.data == bytes([1]) * 10 and audio.content_type == "audio/mpeg"


def test_newest_first_by_default_oldest_first_when_asked(history: History, clock: Clock) -> None:
    _record(history, clock, [_item(n) for n in range(1, 4)])
    assert _ids(history) == ["item003", "item002", "item001"]
    assert _ids(history, ascending=True) == ["item001", "item002", "item003"]


def test_pages_follow_each_other_in_both_directions(history: History, clock: Clock) -> None:
    # Two items per moment: the id breaks the tie, so no item is skipped or repeated across pages.
    _record(history, clock, [_item(n) for n in range(1, 8)], every=timedelta(0))
    _record(history, clock, [_item(n) for n in range(8, 12)])
    for ascending in (False, True):
        seen, after, more = [], None, True
        while more:
            page = history.page(
                "alice", HistoryQuery(page_size=3, start_after_history_item_id=after, ascending=ascending)
            )
            seen += [item.history_item_id for item in page.items]
            after, more = page.last_history_item_id, page.has_more
        assert seen == sorted(seen, reverse=not ascending)
        assert len(seen) == 11


def test_the_last_page_says_there_is_no_more(history: History, clock: Clock) -> None:
    _record(history, clock, [_item(n) for n in range(1, 5)])
    first = history.page("alice", HistoryQuery(page_size=4))
    assert len(first.items) == 4 and not first.has_more and first.last_history_item_id == "item001"
    empty = history.page("alice", HistoryQuery(start_after_history_item_id="item001"))
    assert empty.items == [] and not empty.has_more and empty.last_history_item_id is None


def test_filters(history: History, clock: Clock) -> None:
    _record(
        history,
        clock,
        [
            _item(1, voice_id="rachel", text="The 100% solution"),
            _item(2, model_id="eleven_multilingual_v2", text="snake_case and more"),
            _item(3, source="STS", text="Hello THERE"),
            _item(4, text="hello again"),
        ],
    )
    assert _ids(history, voice_id="rachel") == ["item001"]
    assert _ids(history, model_id="eleven_multilingual_v2") == ["item002"]
    assert _ids(history, source="STS") == ["item003"]
    assert _ids(history, search="hello") == ["item004", "item003"]  # any case
    assert _ids(history, search="100%") == ["item001"]  # % and _ are literal, not wildcards
    assert _ids(history, search="e_c") == ["item002"]
    assert _ids(history, search="%") == ["item001"]
    assert _ids(history, voice_id="george", search="hello", source="TTS") == ["item004"]
    assert _ids(history, voice_id="nobody") == []


def test_dates_after_are_inclusive_before_exclusive(history: History, clock: Clock) -> None:
    clock.advance(timedelta(microseconds=500_000))  # 0.5 s into a second, like any real time
    _record(history, clock, [_item(n) for n in range(1, 5)], every=timedelta(seconds=10))
    second = int((START + timedelta(seconds=10)).timestamp())  # the second item's date_unix
    assert _ids(history, date_after_unix=second) == ["item004", "item003", "item002"]
    assert _ids(history, date_before_unix=second) == ["item001"]
    assert _ids(history, date_before_unix=second + 1) == ["item002", "item001"]
    assert _ids(history, date_after_unix=second, date_before_unix=second + 11) == ["item003", "item002"]


def test_an_owner_sees_only_its_own_items(history: History, clock: Clock) -> None:
    _record(history, clock, [_item(1, owner="alice"), _item(2, owner="bob")])
    assert _ids(history, "alice") == ["item001"] and _ids(history, "bob") == ["item002"]
    assert history.get("bob", "item001") is None and history.audio("bob", "item001") is None
    assert history.find("bob", ["item001", "item002"]).keys() == {"item002"}
    with pytest.raises(UnknownHistoryItem):
        history.page("bob", HistoryQuery(start_after_history_item_id="item001"))
    assert not history.delete("bob", "item001")
    assert history.get("alice", "item001") is not None
    assert history.delete("alice", "item001") and history.get("alice", "item001") is None
    assert not history.delete("alice", "item001")


def test_texts_in_the_order_asked_for(history: History, clock: Clock) -> None:
    _record(history, clock, [_item(n) for n in range(1, 4)] + [_item(4, owner="bob")])
    assert history.texts("alice", ["request003", "request001"]) == ["Text number 3.", "Text number 1."]
    assert history.texts("alice", []) == []
    with pytest.raises(UnknownRequestIds) as error:
        history.texts("alice", ["request002", "missing", "request004"])  # request004 is bob's
    assert error.value.missing == ["missing", "request004"]


def test_audio_beyond_the_size_limit_goes_oldest_first(store: Store, clock: Clock) -> None:
    history = _limited(store, clock, max_audio_bytes=35)  # ten bytes each: room for three
    _record(history, clock, [_item(n) for n in range(1, 6)])
    assert _kept(history) == ["item003", "item004", "item005"] == _stored(store)
    assert len(_ids(history, page_size=100)) == 5  # the items stay
    pruned = history.audio("alice", "item001")
    assert pruned is not None and pruned.data is None
    # Another owner's audio counts against its own limit, not alice's.
    history.record(_item(6, owner="bob"))
    assert _kept(history) == ["item003", "item004", "item005"] and _kept(history, "bob") == ["item006"]


def test_an_item_larger_than_the_limit_keeps_no_audio(store: Store, clock: Clock) -> None:
    history = _limited(store, clock, max_audio_bytes=35)
    # The big one takes no room, so the three small ones around it fit.
    _record(history, clock, [_item(1), _item(2), _item(3, audio=b"x" * 36), _item(4)])
    assert _kept(history) == ["item001", "item002", "item004"] == _stored(store)
    _record(history, clock, [_item(5)])
    assert _kept(history) == ["item002", "item004", "item005"]
    nothing = _limited(store, clock, max_audio_bytes=0)  # a limit of 0 keeps no audio at all
    nothing.record(_item(6))
    assert _kept(nothing) == [] == _stored(store) and len(_ids(nothing)) == 6


def test_audio_past_the_age_limit_goes(store: Store, clock: Clock) -> None:
    history = _limited(store, clock, max_age=timedelta(days=2))
    _record(history, clock, [_item(n) for n in range(1, 4)], every=timedelta(days=1))
    history.record(_item(4))  # now: day 3; item002 is exactly 2 days old
    assert _kept(history) == ["item003", "item004"] == _stored(store)
    nothing = _limited(store, clock, max_age=timedelta(0))  # an age of 0 keeps no audio at all
    nothing.record(_item(5))
    assert _kept(nothing) == [] == _stored(store)


def test_the_age_limit_applies_on_read_without_a_new_recording(store: Store, clock: Clock) -> None:
    history = _limited(store, clock, max_age=timedelta(days=2))
    _record(history, clock, [_item(1), _item(2)], every=timedelta(days=1))  # now: day 2
    assert _kept(history) == ["item002"]
    old = history.get("alice", "item001")
    assert (
        old is not None
        and not old.audio_kept
        and not history.find("alice", ["item001"])["item001"].audio_kept
    )
    audio = history.audio("alice", "item001")
    assert audio is not None and audio.data is None and audio.content_type == "audio/mpeg"
    clock.advance(timedelta(days=1))
    assert _kept(history) == [] and history.audio("alice", "item002").data is None
    assert _stored(store) == ["item001", "item002"]  # hidden, not yet dropped: that is prune's work
    assert history.prune() == 2 and _stored(store) == []


def test_an_age_longer_than_the_calendar_keeps_everything(store: Store, clock: Clock) -> None:
    history = _limited(store, clock, max_age=timedelta.max)
    _record(history, clock, [_item(1), _item(2)])
    assert _kept(history) == ["item001", "item002"] and history.prune() == 0


def test_prune_sweeps_every_owner(store: Store, clock: Clock) -> None:
    _record(_limited(store, clock), clock, [_item(n, owner) for n, owner in enumerate("aabbbc", 1)])
    assert _stored(store) == [f"item00{n}" for n in range(1, 7)]  # now: 6 s after item001
    # Restarted with lower limits: owners that record nothing more are trimmed all the same.
    smaller = _limited(store, clock, max_audio_bytes=20, max_age=timedelta(seconds=6))
    assert smaller.prune() == 2  # item001 for its age, item003 for b's budget
    assert [_kept(smaller, owner) for owner in "abc"] == [["item002"], ["item004", "item005"], ["item006"]]
    assert _stored(store) == ["item002", "item004", "item005", "item006"]
    assert smaller.prune() == 0
    clock.advance(timedelta(days=1))
    assert smaller.prune() == 4 and _stored(store) == []


def test_the_index_migration_keeps_the_history(database_url: str, clock: Clock) -> None:
    store = Store(database_url)
    migrate(store, command.upgrade, "0002")
    history = _limited(store, clock, max_audio_bytes=25)
    _record(history, clock, [_item(1), _item(2, owner="bob"), _item(3), _item(4)])
    before = [history.page(owner, HistoryQuery()) for owner in ("alice", "bob")]
    assert _kept(history) == ["item003", "item004"]
    for step, revision, indexes in (
        (command.upgrade, "head", {"ix_history_owner_created_at", "ix_history_kept_audio"}),
        (command.downgrade, "0002", {"ix_history_owner", "ix_history_created_at"}),
        (command.upgrade, "head", {"ix_history_owner_created_at", "ix_history_kept_audio"}),
    ):
        migrate(store, step, revision)
        with store._engine.connect() as conn:
            names = {index["name"] for index in inspect(conn).get_indexes("history")}
        assert names == indexes | {"ix_history_request_id"}
        assert [history.page(owner, HistoryQuery()) for owner in ("alice", "bob")] == before
    history.record(_item(5))
    assert _kept(history) == ["item004", "item005"] and _stored(store) == ["item002", "item004", "item005"]
    store.close()


@pytest.mark.parametrize("value", ["nul\0byte", "half \ud83d pair"])
def test_values_no_database_can_hold_match_nothing(history: History, clock: Clock, value: str) -> None:
    # PostgreSQL refuses NUL in text and neither database takes a lone surrogate: both would be errors.
    _record(history, clock, [_item(1)])
    assert history.get("alice", value) is None and history.audio("alice", value) is None
    assert history.find("alice", [value, "item001"]).keys() == {"item001"}
    assert not history.delete("alice", value)
    with pytest.raises(UnknownRequestIds) as error:
        history.texts("alice", ["request001", value])
    assert error.value.missing == [value]
    for query in ({"voice_id": value}, {"model_id": value}, {"search": value}, {"source": value}):
        assert _ids(history, **query) == []
    with pytest.raises(UnknownHistoryItem):
        history.page("alice", HistoryQuery(start_after_history_item_id=value))

"""The generation history: one item per logged generation, its audio kept within a size and an age."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    Select,
    and_,
    case,
    delete,
    false,
    func,
    insert,
    select,
    tuple_,
    update,
)

from intone.store.strings import storable
from intone.store.tables import HistoryRow
from intone.store.writing import writer


class UnknownRequestIds(Exception):
    def __init__(self, missing: Sequence[str]) -> None:
        super().__init__(f"unknown request ids: {', '.join(missing)}")
        self.missing = list(missing)


class UnknownHistoryItem(Exception):
    """The owner has no item with this id (it may have been deleted, or belong to another owner)."""

    def __init__(self, history_item_id: str) -> None:
        super().__init__(f"unknown history item {history_item_id!r}")
        self.history_item_id = history_item_id


@dataclass(frozen=True)
class Retention:
    """How much audio each owner's history keeps: none `max_age` old or older, and, newest first, no more
    than `max_audio_bytes` in all; an item larger than that on its own keeps none (and takes no room)."""

    max_audio_bytes: int
    max_age: timedelta


# The documented defaults of INTONE_HISTORY_MAX_AUDIO_MB and INTONE_HISTORY_MAX_AGE_DAYS.
DEFAULT_RETENTION = Retention(max_audio_bytes=1024 * 1_000_000, max_age=timedelta(days=30))


@dataclass(frozen=True)
class NewItem:
    history_item_id: str
    owner: str
    request_id: str
    voice_id: str
    voice_name: str
    voice_category: str
    model_id: str
    text: str
    characters: int
    character_count_change_from: int
    character_count_change_to: int
    settings: dict[str, Any]
    output_format: str
    content_type: str
    source: str
    audio: bytes


@dataclass(frozen=True)
class Item:
    """A history item without its audio, which may be large: `audio_kept` says whether it still exists."""

    history_item_id: str
    request_id: str
    voice_id: str
    voice_name: str
    voice_category: str
    model_id: str
    text: str
    character_count_change_from: int
    character_count_change_to: int
    settings: dict[str, Any]
    output_format: str
    content_type: str
    source: str
    created_at: datetime
    audio_kept: bool


@dataclass(frozen=True)
class Audio:
    """The audio of an item; `data` is None once the size or age limit dropped it."""

    content_type: str
    output_format: str
    data: bytes | None


@dataclass(frozen=True)
class HistoryQuery:
    """One page of a listing, as the ElevenLabs API asks for it; dates are unix seconds."""

    page_size: int = 100
    start_after_history_item_id: str | None = None
    voice_id: str | None = None
    model_id: str | None = None
    date_before_unix: int | None = None  # exclusive
    date_after_unix: int | None = None  # inclusive
    ascending: bool = False
    search: str | None = None  # a case-insensitive substring of the text
    source: str | None = None


@dataclass(frozen=True)
class HistoryPage:
    items: list[Item]
    has_more: bool

    @property
    def last_history_item_id(self) -> str | None:
        return self.items[-1].history_item_id if self.items else None


def _utc_now() -> datetime:
    return datetime.now(UTC)


_ITEM_COLUMNS = (
    HistoryRow.history_item_id,
    HistoryRow.request_id,
    HistoryRow.voice_id,
    HistoryRow.voice_name,
    HistoryRow.voice_category,
    HistoryRow.model_id,
    HistoryRow.text,
    HistoryRow.character_count_change_from,
    HistoryRow.character_count_change_to,
    HistoryRow.settings,
    HistoryRow.output_format,
    HistoryRow.content_type,
    HistoryRow.source,
    HistoryRow.created_at,
)

# Listing order: by date, the id breaking ties between items made in the same microsecond.
_ORDER = (HistoryRow.created_at, HistoryRow.history_item_id)


class History:
    """Items are per owner (the key that made them): one key never sees another's."""

    def __init__(
        self, engine: Engine, retention: Retention, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self._engine = engine
        self._retention = retention
        self._clock = clock  # tests set the time items are recorded and read at

    def record(self, item: NewItem) -> None:
        """Adds the item, then drops the audio (never the item) the retention no longer keeps among the
        owner's items, the new one's included."""
        now = self._clock()
        row = asdict(item) | {"created_at": now, "audio_size": len(item.audio)}
        with writer(self._engine).begin() as conn:
            conn.execute(insert(HistoryRow).values(**row))
            self._prune(conn, item.owner, now)

    def prune(self) -> int:
        """Drops the audio the retention no longer keeps, for every owner; how many items lost theirs.

        Recording prunes only the recording owner's items, and reads only hide audio past the age limit:
        run this at start-up (the limits may have shrunk) and now and then, so that audio stored by keys
        that stopped generating goes too. Each owner is one short transaction.
        """
        now = self._clock()
        owners = select(HistoryRow.owner).where(HistoryRow.audio.is_not(None)).distinct()
        with self._engine.connect() as conn:
            found = conn.execute(owners).scalars().all()
        dropped = 0
        for owner in found:
            with writer(self._engine).begin() as conn:
                dropped += self._prune(conn, owner, now)
        return dropped

    def _prune(self, conn: Connection, owner: str, now: datetime) -> int:
        # Both statements select on exactly the partial index's terms (owner, audio IS NOT NULL), so they
        # read only the items still holding audio, not all the owner ever made.
        kept = (HistoryRow.owner == owner, HistoryRow.audio.is_not(None))
        too_old = update(HistoryRow).where(*kept, HistoryRow.created_at <= self._cutoff(now))
        dropped = conn.execute(too_old.values(audio=None)).rowcount
        budget = self._retention.max_audio_bytes
        fits = HistoryRow.audio_size <= budget
        # Each item's audio plus that of every newer one that fits on its own: past the budget, this item
        # and all older go; an item too big on its own goes without pushing the others out.
        running = (
            select(
                HistoryRow.history_item_id,
                fits.label("fits"),
                func.sum(case((fits, HistoryRow.audio_size), else_=0))  # typed by audio_size: BIGINT
                .over(order_by=[column.desc() for column in _ORDER])
                .label("running"),
            )
            .where(*kept)
            .subquery()
        )
        over_budget = select(running.c.history_item_id).where(~running.c.fits | (running.c.running > budget))
        unkept = update(HistoryRow).where(
            *kept, HistoryRow.history_item_id.in_(over_budget.scalar_subquery())
        )
        return dropped + conn.execute(unkept.values(audio=None)).rowcount

    def _cutoff(self, now: datetime) -> datetime:
        """Audio made at or before this time is past the age limit."""
        # An age reaching back before year 1 (timedelta allows far more) would overflow: it keeps all.
        return now - min(self._retention.max_age, now - datetime.min.replace(tzinfo=UTC))

    def _audio_kept(self) -> ColumnElement[bool]:
        """Whether an item's audio is still kept: audio past the age limit counts as gone even before a
        prune has dropped it."""
        return and_(HistoryRow.audio.is_not(None), HistoryRow.created_at > self._cutoff(self._clock()))

    def texts(self, owner: str, request_ids: Sequence[str]) -> list[str]:
        """The texts of the owner's generations with these request ids, in the order given."""
        query = select(HistoryRow.request_id, HistoryRow.text).where(
            HistoryRow.owner == owner, HistoryRow.request_id.in_(list(filter(storable, request_ids)))
        )
        with self._engine.connect() as conn:
            found: dict[str, str] = {request_id: text for request_id, text in conn.execute(query)}
        missing = [request_id for request_id in request_ids if request_id not in found]
        if missing:
            raise UnknownRequestIds(missing)
        return [found[request_id] for request_id in request_ids]

    def page(self, owner: str, query: HistoryQuery) -> HistoryPage:
        """One page of the owner's items by date. Raises UnknownHistoryItem when the item to start after
        is not one of the owner's."""
        stmt = self._items(owner).where(*_conditions(query))
        columns = [column.asc() if query.ascending else column.desc() for column in _ORDER]
        with self._engine.connect() as conn:
            if query.start_after_history_item_id is not None:
                stmt = stmt.where(_after(conn, owner, query.start_after_history_item_id, query.ascending))
            # One more than asked for tells whether another page follows.
            rows = conn.execute(stmt.order_by(*columns).limit(query.page_size + 1)).all()
        items = [_item(row) for row in rows]
        return HistoryPage(items[: query.page_size], len(items) > query.page_size)

    def get(self, owner: str, history_item_id: str) -> Item | None:
        return self.find(owner, [history_item_id]).get(history_item_id)

    def find(self, owner: str, history_item_ids: Sequence[str]) -> dict[str, Item]:
        """The owner's items among these ids, by id; ids not found are left out."""
        stmt = self._items(owner).where(
            HistoryRow.history_item_id.in_(list(filter(storable, history_item_ids)))
        )
        with self._engine.connect() as conn:
            return {item.history_item_id: item for item in map(_item, conn.execute(stmt))}

    def audio(self, owner: str, history_item_id: str) -> Audio | None:
        """The item's audio; None when the owner has no such item."""
        if not storable(history_item_id):
            return None
        data = case((self._audio_kept(), HistoryRow.audio))
        stmt = select(HistoryRow.content_type, HistoryRow.output_format, data).where(
            HistoryRow.owner == owner, HistoryRow.history_item_id == history_item_id
        )
        with self._engine.connect() as conn:
            row = conn.execute(stmt).one_or_none()
        return None if row is None else Audio(*row)

    def delete(self, owner: str, history_item_id: str) -> bool:
        """Deletes the item; False when the owner has no such item."""
        if not storable(history_item_id):
            return False
        stmt = delete(HistoryRow).where(
            HistoryRow.owner == owner, HistoryRow.history_item_id == history_item_id
        )
        with writer(self._engine).begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def _items(self, owner: str) -> Select[Any]:
        return select(*_ITEM_COLUMNS, self._audio_kept().label("audio_kept")).where(HistoryRow.owner == owner)


def _after(conn: Connection, owner: str, history_item_id: str, ascending: bool) -> ColumnElement[bool]:
    """Items past the given one in the listing order (the page before ended with it)."""
    if not storable(history_item_id):
        raise UnknownHistoryItem(history_item_id)
    anchor = conn.execute(
        select(*_ORDER).where(HistoryRow.owner == owner, HistoryRow.history_item_id == history_item_id)
    ).one_or_none()
    if anchor is None:
        raise UnknownHistoryItem(history_item_id)
    key, last = tuple_(*_ORDER), tuple_(*anchor)
    return key > last if ascending else key < last


def _conditions(query: HistoryQuery) -> list[ColumnElement[bool]]:
    given = [
        text for text in (query.voice_id, query.model_id, query.search, query.source) if text is not None
    ]
    if not all(map(storable, given)):
        return [false()]  # a value no item can hold matches none
    conditions = []
    if query.voice_id is not None:
        conditions.append(HistoryRow.voice_id == query.voice_id)
    if query.model_id is not None:
        conditions.append(HistoryRow.model_id == query.model_id)
    if query.date_before_unix is not None:
        conditions.append(HistoryRow.created_at < datetime.fromtimestamp(query.date_before_unix, UTC))
    if query.date_after_unix is not None:
        conditions.append(HistoryRow.created_at >= datetime.fromtimestamp(query.date_after_unix, UTC))
    if query.search:
        conditions.append(HistoryRow.text.ilike(f"%{_escape_like(query.search)}%", escape="\\"))
    if query.source is not None:
        conditions.append(HistoryRow.source == query.source)
    return conditions


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _item(row: Row[Any]) -> Item:
    values = row._asdict()
    created = values["created_at"]
    # SQLite hands back the naive UTC time it was given; PostgreSQL an aware one.
    values["created_at"] = created if created.tzinfo else created.replace(tzinfo=UTC)
    values["audio_kept"] = bool(values["audio_kept"])  # SQLite answers IS NOT NULL with 0 or 1
    return Item(**values)

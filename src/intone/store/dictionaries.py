"""Pronunciation dictionaries: each account's own, with every version of their rules kept.

A change of the rules writes a new version and points the dictionary at it; the older versions stay, so
a request that pinned one keeps speaking as it did. An owner never sees another's dictionaries: every
read and write is by (owner, id), and another owner's id reads as unknown.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Row, Select, insert, select, tuple_, update

from intone.speech.lexicon import AliasRule, Lexicon, PhonemeRule, Rule
from intone.store.strings import storable
from intone.store.tables import DictionaryRow, DictionaryVersionRow
from intone.store.writing import writer

_ID_CHARACTERS = string.ascii_letters + string.digits
_ID_LENGTH = 20  # as long as ElevenLabs' ids, which clients may store in fields sized for them


class UnknownCursor(Exception):
    """The cursor names no dictionary of the owner's."""


@dataclass(frozen=True)
class Dictionary:
    dictionary_id: str
    owner: str
    name: str
    description: str | None
    created_at: datetime
    archived_at: datetime | None
    latest_version_id: str
    latest_rules_num: int


@dataclass(frozen=True)
class Version:
    dictionary_id: str
    version_id: str
    rules: Lexicon


@dataclass(frozen=True)
class DictionaryQuery:
    """One page of a listing, as the ElevenLabs API asks for it."""

    page_size: int = 30
    cursor: str | None = None  # the id of the last dictionary of the page before
    by_name: bool = False  # else by creation time
    ascending: bool = False
    include_archived: bool = False


@dataclass(frozen=True)
class DictionaryPage:
    dictionaries: list[Dictionary]
    has_more: bool


_COLUMNS = (
    DictionaryRow.dictionary_id,
    DictionaryRow.owner,
    DictionaryRow.name,
    DictionaryRow.description,
    DictionaryRow.created_at,
    DictionaryRow.archived_at,
    DictionaryRow.latest_version_id,
    DictionaryVersionRow.rules_num,
)


class Dictionaries:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, owner: str, name: str, description: str | None, rules: Sequence[Rule]) -> Dictionary:
        """A new dictionary whose first version holds the rules."""
        now = datetime.now(UTC)
        dictionary_id, version_id = _new_id(), _new_id()
        with writer(self._engine).begin() as conn:
            conn.execute(
                insert(DictionaryRow).values(
                    dictionary_id=dictionary_id,
                    owner=owner,
                    name=name,
                    description=description,
                    latest_version_id=version_id,
                    created_at=now,
                    archived_at=None,
                )
            )
            _add_version(conn, dictionary_id, version_id, rules, now)
        return Dictionary(dictionary_id, owner, name, description, now, None, version_id, len(rules))

    def get(self, owner: str, dictionary_id: str) -> Dictionary | None:
        if not storable(dictionary_id):
            return None
        with self._engine.connect() as conn:
            row = conn.execute(
                self._select(owner).where(DictionaryRow.dictionary_id == dictionary_id)
            ).first()
        return None if row is None else _dictionary(row)

    def version(self, owner: str, dictionary_id: str, version_id: str | None = None) -> Version | None:
        """The rules of a version of the owner's dictionary (None: the latest); None when the owner has no
        such dictionary, or it has no such version."""
        if not storable(dictionary_id) or (version_id is not None and not storable(version_id)):
            return None
        which = (
            DictionaryVersionRow.version_id == DictionaryRow.latest_version_id
            if version_id is None
            else DictionaryVersionRow.version_id == version_id
        )
        query = (
            select(DictionaryVersionRow.version_id, DictionaryVersionRow.rules)
            .join(DictionaryRow, DictionaryRow.dictionary_id == DictionaryVersionRow.dictionary_id)
            .where(DictionaryRow.owner == owner, DictionaryRow.dictionary_id == dictionary_id, which)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else Version(dictionary_id, row.version_id, _lexicon(row.rules))

    def page(self, owner: str, query: DictionaryQuery) -> DictionaryPage:
        """One page of the owner's dictionaries. Raises UnknownCursor."""
        order = _order(query.by_name)
        stmt = self._select(owner)
        if not query.include_archived:
            stmt = stmt.where(DictionaryRow.archived_at.is_(None))
        with self._engine.connect() as conn:
            if query.cursor is not None:
                stmt = stmt.where(_after(conn, owner, query.cursor, order, query.ascending))
            columns = [column.asc() if query.ascending else column.desc() for column in order]
            # One more than asked for tells whether another page follows.
            rows = conn.execute(stmt.order_by(*columns).limit(query.page_size + 1)).all()
        found = [_dictionary(row) for row in rows]
        return DictionaryPage(found[: query.page_size], len(found) > query.page_size)

    def update(
        self, owner: str, dictionary_id: str, name: str | None = None, archived: bool | None = None
    ) -> Dictionary | None:
        """Renames, archives or restores the dictionary (None: unchanged); its versions stay as they are.
        Archiving again keeps the first archive time. None when the owner has no such dictionary."""
        if not storable(dictionary_id):
            return None
        with writer(self._engine).begin() as conn:
            mine = (DictionaryRow.owner == owner, DictionaryRow.dictionary_id == dictionary_id)
            current = conn.execute(select(DictionaryRow.archived_at).where(*mine).with_for_update()).first()
            if current is None:
                return None
            changes: dict[str, object] = {}
            if name is not None:
                changes["name"] = name
            if archived is not None:
                changes["archived_at"] = (current.archived_at or datetime.now(UTC)) if archived else None
            if changes:
                conn.execute(update(DictionaryRow).where(*mine).values(**changes))
        return self.get(owner, dictionary_id)

    def revise(self, owner: str, dictionary_id: str, change: Callable[[Lexicon], Lexicon]) -> Version | None:
        """A new latest version holding `change(latest rules)`; None when the owner has no such
        dictionary. Two revisions at once both count: the second one reads the first one's rules.
        Whatever `change` raises ends the revision with nothing written."""
        if not storable(dictionary_id):
            return None
        with writer(self._engine).begin() as conn:
            mine = (DictionaryRow.owner == owner, DictionaryRow.dictionary_id == dictionary_id)
            # The row lock makes concurrent revisions on PostgreSQL wait their turn; SQLite's writers are
            # one at a time already.
            latest = conn.execute(
                select(DictionaryRow.latest_version_id).where(*mine).with_for_update()
            ).first()
            if latest is None:
                return None
            stored = conn.execute(
                select(DictionaryVersionRow.rules).where(DictionaryVersionRow.version_id == latest[0])
            ).scalar_one()
            rules = change(_lexicon(stored))
            version_id = _new_id()
            _add_version(conn, dictionary_id, version_id, rules, datetime.now(UTC))
            conn.execute(update(DictionaryRow).where(*mine).values(latest_version_id=version_id))
        return Version(dictionary_id, version_id, rules)

    def _select(self, owner: str) -> Select[Any]:
        return (
            select(*_COLUMNS)
            .join(DictionaryVersionRow, DictionaryVersionRow.version_id == DictionaryRow.latest_version_id)
            .where(DictionaryRow.owner == owner)
        )


def _new_id() -> str:
    return "".join(secrets.choice(_ID_CHARACTERS) for _ in range(_ID_LENGTH))


def _add_version(
    conn: Connection, dictionary_id: str, version_id: str, rules: Sequence[Rule], now: datetime
) -> None:
    conn.execute(
        insert(DictionaryVersionRow).values(
            version_id=version_id,
            dictionary_id=dictionary_id,
            rules=[_stored(rule) for rule in rules],
            rules_num=len(rules),
            created_at=now,
        )
    )


def _stored(rule: Rule) -> dict[str, Any]:
    return {"type": "alias" if isinstance(rule, AliasRule) else "phoneme", **asdict(rule)}


def _lexicon(stored: list[dict[str, Any]]) -> Lexicon:
    return tuple(map(_rule, stored))


def _rule(stored: dict[str, Any]) -> Rule:
    fields = {name: value for name, value in stored.items() if name != "type"}
    return AliasRule(**fields) if stored["type"] == "alias" else PhonemeRule(**fields)


def _order(by_name: bool) -> tuple[ColumnElement[Any], ...]:
    # The id breaks ties: two dictionaries of one name, or made in the same microsecond.
    first = DictionaryRow.name if by_name else DictionaryRow.created_at
    return (first, DictionaryRow.dictionary_id)


def _after(
    conn: Connection, owner: str, cursor: str, order: tuple[ColumnElement[Any], ...], ascending: bool
) -> ColumnElement[bool]:
    """Dictionaries past the cursor's in the listing order (the page before ended with it)."""
    if not storable(cursor):
        raise UnknownCursor(cursor)
    anchor = conn.execute(
        select(*order).where(DictionaryRow.owner == owner, DictionaryRow.dictionary_id == cursor)
    ).first()
    if anchor is None:
        raise UnknownCursor(cursor)
    key, last = tuple_(*order), tuple_(*anchor)
    return key > last if ascending else key < last


def _aware(moment: datetime) -> datetime:
    # SQLite hands back the naive UTC time it was given; PostgreSQL an aware one.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _dictionary(row: Row[Any]) -> Dictionary:
    return Dictionary(
        dictionary_id=row.dictionary_id,
        owner=row.owner,
        name=row.name,
        description=row.description,
        created_at=_aware(row.created_at),
        archived_at=None if row.archived_at is None else _aware(row.archived_at),
        latest_version_id=row.latest_version_id,
        latest_rules_num=row.rules_num,
    )

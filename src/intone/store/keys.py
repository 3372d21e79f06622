"""API keys: create (the secret is returned once, only its hash is kept), list, find, disable, delete."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypedDict

from sqlalchemy import ColumnElement, Engine, delete, select, update
from sqlalchemy.orm import Session

from intone.accounts.scopes import Scope
from intone.accounts.secrets import KEY_PREFIX, hash_secret, hint, new_id, new_secret
from intone.store.strings import storable
from intone.store.tables import ApiKeyRow, DictionaryRow, DictionaryVersionRow, HistoryRow, VoiceSettingsRow
from intone.store.writing import writer

# The largest quota the BigInteger column holds (PostgreSQL's bigint; SQLite's integers are as wide).
CHARACTER_LIMIT_MAX = 2**63 - 1


class KeyChanges(TypedDict, total=False):
    """What an operator may change on a key; a present `character_limit` of None removes the quota."""

    name: str
    disabled: bool
    character_limit: int | None
    tier: str


# A scope a newer version stored and this one does not know grants nothing here.
_KNOWN_SCOPES = {scope.value for scope in Scope}


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    hint: str
    scopes: frozenset[Scope]
    character_limit: int | None
    tier: str
    disabled: bool
    created_at: datetime

    @staticmethod
    def of(row: ApiKeyRow) -> ApiKey:
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        return ApiKey(
            key_id=row.key_id,
            name=row.name,
            hint=row.hint,
            scopes=frozenset(Scope(name) for name in row.scopes if name in _KNOWN_SCOPES),
            character_limit=row.character_limit,
            tier=row.tier,
            disabled=row.disabled,
            created_at=created,
        )


class Keys:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(
        self, name: str, scopes: frozenset[Scope], character_limit: int | None, tier: str
    ) -> tuple[ApiKey, str]:
        """The new key and its secret, which is not stored and cannot be shown again."""
        secret = new_secret(KEY_PREFIX)
        row = ApiKeyRow(
            key_id=new_id("key_"),
            name=name,
            secret_hash=hash_secret(secret),
            hint=hint(secret),
            scopes=sorted(scope.value for scope in scopes),
            character_limit=character_limit,
            tier=tier,
            disabled=False,
            created_at=datetime.now(UTC),
        )
        key = ApiKey.of(row)
        with Session(writer(self._engine)) as session, session.begin():
            session.add(row)
        return key, secret

    def authenticate(self, secret: str) -> ApiKey | None:
        """The key with this secret, disabled or not; None when there is none."""
        return self._one(ApiKeyRow.secret_hash == hash_secret(secret))

    def get(self, key_id: str) -> ApiKey | None:
        if not storable(key_id):
            return None
        return self._one(ApiKeyRow.key_id == key_id)

    def _one(self, condition: ColumnElement[bool]) -> ApiKey | None:
        with Session(self._engine) as session:
            row = session.scalars(select(ApiKeyRow).where(condition)).first()
            return ApiKey.of(row) if row else None

    def list(self) -> list[ApiKey]:
        with Session(self._engine) as session:
            rows = session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.key_id))
            return [ApiKey.of(row) for row in rows]

    def any_enabled(self) -> bool:
        with self._engine.connect() as conn:
            return (
                conn.execute(select(ApiKeyRow.key_id).where(~ApiKeyRow.disabled).limit(1)).first() is not None
            )

    def update(self, key_id: str, changes: KeyChanges) -> ApiKey | None:
        """Applies the changes that are set; the key afterwards, or None when there is no such key."""
        if not storable(key_id):
            return None
        values = {name: value for name, value in changes.items() if value is not None}
        if "character_limit" in changes and changes["character_limit"] is None:
            values["character_limit"] = None
        if values:
            with writer(self._engine).begin() as conn:
                conn.execute(update(ApiKeyRow).where(ApiKeyRow.key_id == key_id).values(**values))
        return self.get(key_id)

    def delete(self, key_id: str) -> bool:
        """Deletes the key, its history, its voice settings and its pronunciation dictionaries (its usage
        stays, for the accounting); False when there is no such key."""
        if not storable(key_id):
            return False
        with writer(self._engine).begin() as conn:
            if conn.execute(delete(ApiKeyRow).where(ApiKeyRow.key_id == key_id)).rowcount != 1:
                return False
            # No one could read these items again, yet their audio may take up to the whole size limit.
            conn.execute(delete(HistoryRow).where(HistoryRow.owner == key_id))
            conn.execute(delete(VoiceSettingsRow).where(VoiceSettingsRow.owner == key_id))
            owned = select(DictionaryRow.dictionary_id).where(DictionaryRow.owner == key_id)
            conn.execute(delete(DictionaryVersionRow).where(DictionaryVersionRow.dictionary_id.in_(owned)))
            conn.execute(delete(DictionaryRow).where(DictionaryRow.owner == key_id))
            return True

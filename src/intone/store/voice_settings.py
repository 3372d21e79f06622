"""Saved voice settings: each account's stability, similarity, style, speaker boost and speed per voice."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine, func, select

from intone.store.tables import VoiceSettingsRow
from intone.store.writing import writer

if TYPE_CHECKING:
    from intone.store.database import UpsertFactory

FIELDS = ("stability", "similarity_boost", "style", "use_speaker_boost", "speed")

VoiceSettingsValues = dict[str, float | bool | None]

_KEY = [VoiceSettingsRow.owner, VoiceSettingsRow.voice_id]


class VoiceSettings:
    """Reads and upserts an account's (an `owner`'s) settings row of a voice."""

    def __init__(self, engine: Engine, insert: UpsertFactory) -> None:
        self._engine = engine
        self._insert = insert

    def get(self, owner: str, voice_id: str) -> VoiceSettingsValues | None:
        """All five fields (None where unset), or None when the owner saved no settings for the voice."""
        return self.get_many(owner, [voice_id]).get(voice_id)

    def get_many(self, owner: str, voice_ids: list[str]) -> dict[str, VoiceSettingsValues]:
        """The owner's saved settings of those voices that have some, in one query (a listing has dozens)."""
        columns = [getattr(VoiceSettingsRow, name) for name in FIELDS]
        query = select(VoiceSettingsRow.voice_id, *columns).where(
            VoiceSettingsRow.owner == owner, VoiceSettingsRow.voice_id.in_(voice_ids)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return {row[0]: dict(zip(FIELDS, row[1:], strict=True)) for row in rows}

    def save(self, owner: str, voice_id: str, values: VoiceSettingsValues) -> None:
        """Replace the owner's settings of the voice; fields missing from `values` are stored as NULL."""
        row = self._row(values)
        stmt = self._insert(VoiceSettingsRow).values(owner=owner, voice_id=voice_id, **row)
        stmt = stmt.on_conflict_do_update(index_elements=_KEY, set_=row)
        with writer(self._engine).begin() as conn:
            conn.execute(stmt)

    def merge(self, owner: str, voice_id: str, values: VoiceSettingsValues) -> None:
        """Set the fields given (not None) and keep the others, in one statement, so two edits of
        different fields at the same moment both stay."""
        row = self._row(values)
        stmt = self._insert(VoiceSettingsRow).values(owner=owner, voice_id=voice_id, **row)
        kept = {
            name: func.coalesce(getattr(stmt.excluded, name), getattr(VoiceSettingsRow, name))
            for name in FIELDS
        }
        stmt = stmt.on_conflict_do_update(index_elements=_KEY, set_=kept | {"updated_at": row["updated_at"]})
        with writer(self._engine).begin() as conn:
            conn.execute(stmt)

    @staticmethod
    def _row(values: VoiceSettingsValues) -> dict[str, object]:
        unknown = values.keys() - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown voice settings: {', '.join(sorted(unknown))}")
        return {name: values.get(name) for name in FIELDS} | {"updated_at": datetime.now(UTC)}

"""Saved voice settings: the per-voice stability, similarity, style, speaker boost and speed."""

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


class VoiceSettings:
    """Reads and upserts the settings row of a voice."""

    def __init__(self, engine: Engine, insert: UpsertFactory) -> None:
        self._engine = engine
        self._insert = insert

    def get(self, voice_id: str) -> VoiceSettingsValues | None:
        """All five fields (None where unset), or None when the voice has no saved settings."""
        columns = [getattr(VoiceSettingsRow, name) for name in FIELDS]
        with self._engine.connect() as conn:
            row = conn.execute(select(*columns).where(VoiceSettingsRow.voice_id == voice_id)).one_or_none()
        return None if row is None else dict(zip(FIELDS, row, strict=True))

    def get_many(self, voice_ids: list[str]) -> dict[str, VoiceSettingsValues]:
        """The saved settings of those voices that have some, in one query (a listing has dozens)."""
        columns = [getattr(VoiceSettingsRow, name) for name in FIELDS]
        query = select(VoiceSettingsRow.voice_id, *columns).where(VoiceSettingsRow.voice_id.in_(voice_ids))
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return {row[0]: dict(zip(FIELDS, row[1:], strict=True)) for row in rows}

    def save(self, voice_id: str, values: VoiceSettingsValues) -> None:
        """Replace the voice's settings; fields missing from `values` are stored as NULL."""
        row = self._row(values)
        stmt = self._insert(VoiceSettingsRow).values(voice_id=voice_id, **row)
        stmt = stmt.on_conflict_do_update(index_elements=[VoiceSettingsRow.voice_id], set_=row)
        with writer(self._engine).begin() as conn:
            conn.execute(stmt)

    def merge(self, voice_id: str, values: VoiceSettingsValues) -> None:
        """Set the fields given (not None) and keep the others, in one statement, so two edits of
        different fields at the same moment both stay."""
        row = self._row(values)
        stmt = self._insert(VoiceSettingsRow).values(voice_id=voice_id, **row)
        kept = {
            name: func.coalesce(getattr(stmt.excluded, name), getattr(VoiceSettingsRow, name))
            for name in FIELDS
        }
        stmt = stmt.on_conflict_do_update(
            index_elements=[VoiceSettingsRow.voice_id], set_=kept | {"updated_at": row["updated_at"]}
        )
        with writer(self._engine).begin() as conn:
            conn.execute(stmt)

    @staticmethod
    def _row(values: VoiceSettingsValues) -> dict[str, object]:
        unknown = values.keys() - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown voice settings: {', '.join(sorted(unknown))}")
        return {name: values.get(name) for name in FIELDS} | {"updated_at": datetime.now(UTC)}

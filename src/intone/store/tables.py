"""The SQLAlchemy models behind the store: saved voice settings and character usage per subject."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import BigInteger, DateTime, Float, MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    # Named constraints keep batch migrations on SQLite (which copy tables) and autogenerate diffs stable.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    # Pinned because SQLAlchemy 2.0 and 2.1 infer different types for `float`, and the migration must match.
    type_annotation_map: ClassVar[dict[Any, Any]] = {float: Float}


class VoiceSettingsRow(Base):
    """The settings saved for one voice; NULL means "use the voice's default"."""

    __tablename__ = "voice_settings"

    voice_id: Mapped[str] = mapped_column(primary_key=True)
    stability: Mapped[float | None]
    similarity_boost: Mapped[float | None]
    style: Mapped[float | None]
    use_speaker_boost: Mapped[bool | None]
    speed: Mapped[float | None]
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UsageRow(Base):
    """Characters synthesized so far for one subject (whoever the usage is billed to)."""

    __tablename__ = "usage"

    subject: Mapped[str] = mapped_column(primary_key=True)
    characters: Mapped[int] = mapped_column(BigInteger, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

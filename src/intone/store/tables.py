"""The SQLAlchemy models behind the store: voice settings, usage, pending charges, API keys, single-use
tokens, history, pronunciation dictionaries."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    Text,
    false,
    text,
)
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
    """The settings one account saved for one voice; NULL means "use the voice's default"."""

    __tablename__ = "voice_settings"

    # The owner first: an account's settings of many voices (a listing) are one range of the key.
    owner: Mapped[str] = mapped_column(primary_key=True)  # the account (subject) that saved them
    voice_id: Mapped[str] = mapped_column(primary_key=True)
    stability: Mapped[float | None]
    similarity_boost: Mapped[float | None]
    style: Mapped[float | None]
    use_speaker_boost: Mapped[bool | None]
    speed: Mapped[float | None]
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UsageRow(Base):
    """Characters synthesized and audio transcribed so far for one subject (whoever is billed)."""

    __tablename__ = "usage"

    subject: Mapped[str] = mapped_column(primary_key=True)
    characters: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # Milliseconds of audio transcribed (speech to text), counted apart from the character credits.
    transcribed_ms: Mapped[int] = mapped_column(BigInteger, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PendingChargeRow(Base):
    """Credits charged to a request that has not ended yet, held by the server process running it.

    Committed with the charge itself; deleted when the request ends (its credits kept, or given back with
    it). A row whose expiry passed belongs to a process that died: its credits are given back.
    """

    __tablename__ = "pending_charges"

    charge_id: Mapped[str] = mapped_column(primary_key=True)
    subject: Mapped[str]
    credits: Mapped[int] = mapped_column(BigInteger)
    holder: Mapped[str] = mapped_column(index=True)  # the process running the request
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ApiKeyRow(Base):
    """An API key: only a hash of the secret is kept, with what the key may do and how much."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]
    secret_hash: Mapped[str] = mapped_column(unique=True)
    hint: Mapped[str]  # the secret's first and last characters, to tell keys apart in a listing
    scopes: Mapped[list[str]] = mapped_column(JSON)
    character_limit: Mapped[int | None] = mapped_column(BigInteger)
    tier: Mapped[str]
    disabled: Mapped[bool] = mapped_column(server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SingleUseTokenRow(Base):
    """A single-use token (hashed), good once before it expires, acting for the key that made it."""

    __tablename__ = "single_use_tokens"

    token_hash: Mapped[str] = mapped_column(primary_key=True)
    key_id: Mapped[str]
    token_type: Mapped[str]
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class HistoryRow(Base):
    """One logged generation: what was asked for, by whom, and (while kept) the audio it made."""

    __tablename__ = "history"
    # Listings are an owner's items in date order. Pruning reads only the items still holding audio (the
    # partial index), however many the owner made: items stay when their audio goes.
    __table_args__ = (
        Index("ix_history_owner_created_at", "owner", "created_at", "history_item_id"),
        Index(
            "ix_history_kept_audio",
            "owner",
            "created_at",
            "history_item_id",
            sqlite_where=text("audio IS NOT NULL"),
            postgresql_where=text("audio IS NOT NULL"),
        ),
    )

    history_item_id: Mapped[str] = mapped_column(primary_key=True)
    owner: Mapped[str]  # the key (subject) that made it
    request_id: Mapped[str] = mapped_column(index=True)
    voice_id: Mapped[str]
    voice_name: Mapped[str]
    voice_category: Mapped[str]
    model_id: Mapped[str]
    text: Mapped[str] = mapped_column(Text)
    characters: Mapped[int]
    character_count_change_from: Mapped[int] = mapped_column(BigInteger)
    character_count_change_to: Mapped[int] = mapped_column(BigInteger)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    output_format: Mapped[str]
    content_type: Mapped[str]
    source: Mapped[str]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    audio: Mapped[bytes | None] = mapped_column(LargeBinary)
    audio_size: Mapped[int] = mapped_column(BigInteger, server_default="0")


class DictionaryRow(Base):
    """A pronunciation dictionary: its name and which of its versions is the latest."""

    __tablename__ = "dictionaries"
    # Listings are an owner's dictionaries by date (or name: few enough per owner to sort).
    __table_args__ = (Index("ix_dictionaries_owner_created_at", "owner", "created_at", "dictionary_id"),)

    dictionary_id: Mapped[str] = mapped_column(primary_key=True)
    owner: Mapped[str]  # the account (subject) that made it; no other sees it
    name: Mapped[str]
    description: Mapped[str | None] = mapped_column(Text)
    latest_version_id: Mapped[str]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DictionaryVersionRow(Base):
    """One version of a dictionary's rules. Never changed once written: a request that names it (pins
    it) speaks the same however the dictionary changes later."""

    __tablename__ = "dictionary_versions"

    version_id: Mapped[str] = mapped_column(primary_key=True)
    dictionary_id: Mapped[str] = mapped_column(
        ForeignKey("dictionaries.dictionary_id", ondelete="CASCADE"), index=True
    )
    rules: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON
    )  # in order, as store/dictionaries.py writes them
    rules_num: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class InstallationRow(Base):
    """One row: when this database was set up, the local account's creation time."""

    __tablename__ = "installation"

    installation_id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

"""Settings, from INTONE_* environment variables (and a .env file), with command-line overrides."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The largest WebSocket message accepted (the SDK's own frame limit); uvicorn refuses larger frames as
# they arrive, before buffering them.
MAX_MESSAGE_BYTES = 1 << 20


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "intone"


def _default_engine_workers() -> int:
    # One engine call per core: more only makes every request slower.
    return max(1, os.cpu_count() or 1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTONE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir, description="Where Intone keeps its files.")
    engine_threads: int = Field(default=1, ge=1, description="CPU threads per engine session.")
    engine_workers: int = Field(
        default_factory=_default_engine_workers,
        ge=1,
        description="Engine calls that run at once in one server process (default: one per core).",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the database (default: SQLite in the data directory)."
    )
    max_concurrent_requests: int = Field(
        default=8,
        ge=1,
        description="Synthesis requests served at once by one server process; more wait their turn.",
    )
    warm_up: bool = Field(default=True, description="Load and exercise every engine when the server starts.")
    shutdown_grace: float = Field(
        default=30.0, ge=0, description="Seconds a stopping server lets in-flight requests finish."
    )

    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'intone.db'}"

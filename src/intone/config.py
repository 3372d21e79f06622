"""Settings, from INTONE_* environment variables (and a .env file), with command-line overrides."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "intone"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTONE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir, description="Where Intone keeps its files.")
    engine_threads: int = Field(default=1, ge=1, description="CPU threads per engine session.")

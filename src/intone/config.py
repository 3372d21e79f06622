"""Settings, from INTONE_* environment variables (and a .env file), with command-line overrides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from intone.engines import voice_packs

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
    voices_dir: Path = Field(
        default_factory=voice_packs.default_dir,
        description="Where the Kokoro voice packs are installed (`intone voices install`).",
    )
    engine_cache_dir: Path | None = Field(
        default=None,
        description="Where engines keep what they derive from their models once (Kokoro's cut graph, each "
        "voice's calibration for windowed decoding); default: the data directory. Servers may share one.",
    )
    engine_threads: int = Field(default=1, ge=1, description="CPU threads per engine session.")
    engine_workers: int = Field(
        default_factory=_default_engine_workers,
        ge=1,
        description="Engine calls that run at once in one server process (default: one per core).",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the database (default: SQLite in the data directory)."
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL: concurrency counts, queues and single-use tokens shared by every replica.",
    )
    auth: Literal["required", "off"] = Field(
        default="required",
        description="'off' serves requests without an API key as one local account (loopback only).",
    )
    local_tier: str = Field(
        default="enterprise", description="The tier of the local account that serves requests with auth off."
    )
    load_limit: float = Field(
        default=0.9,
        gt=0,
        le=4,
        description="Share of the engine workers' time that the admitted requests may need to stay in real "
        "time (each weighs its engine's measured real-time factor); beyond it new requests wait in the "
        "priority queue. Above 1 overcommits: more streams, and stalls when all speak at once.",
    )
    max_concurrent_requests: int | None = Field(
        default=None,
        ge=1,
        description="An optional cap on the synthesis requests one server process runs at once, whatever "
        "their weight (default: none; the load limit decides).",
    )
    queue_timeout: float = Field(
        default=30.0, ge=0, description="Seconds a request may wait for a place before it gets a 429."
    )
    max_queued_requests: int = Field(
        default=100, ge=0, description="Requests that may wait at once per key and group, and per server."
    )
    max_body_bytes: int = Field(
        default=4 << 20,
        ge=1,
        description="The largest HTTP request body accepted, in bytes; a larger one gets 413 before it is "
        "read. The largest legitimate body is a 40,000-character text with previous_text and next_text as "
        "long: 120,000 characters, at most 12 bytes each as JSON escapes of a surrogate pair (4 as UTF-8), "
        "so 1.44 MB; 4 MiB leaves room for the other fields and margin.",
    )
    max_lexicon_bytes: int = Field(
        default=1_000_000,
        ge=1,
        description="The largest PLS lexicon file accepted when creating a pronunciation dictionary from "
        "one, in bytes; a larger one gets 413 and is not kept in memory past the limit (the request body "
        "is also bounded by INTONE_MAX_BODY_BYTES). 1 MB holds well over the 5,000 rules a dictionary "
        "version may have.",
    )
    max_transcription_bytes: int = Field(
        default=1_000_000_000,
        ge=1,
        description="The largest file POST /v1/speech-to-text accepts, in bytes (that route's body limit, in "
        "place of INTONE_MAX_BODY_BYTES); a larger one gets 413 before it is read. The upload is spooled to "
        "a temporary file, not held in memory.",
    )
    max_transcription_seconds: float = Field(
        default=7200.0,
        gt=0,
        description="The longest recording transcribed, in seconds; a longer one is refused as soon as the "
        "decoder passes this length (its decoded samples take 64 kB a second).",
    )
    max_sockets_per_key: int = Field(
        default=100,
        ge=1,
        description="Realtime sockets (stream-input, multi-stream-input) one key may hold open at once; "
        "counted across replicas when they share Redis. One more is refused with too_many_open_sockets.",
    )
    max_sockets: int = Field(
        default=500,
        ge=1,
        description="Realtime sockets one server process holds open at once, whatever their keys; one more "
        "is refused with system_busy.",
    )
    max_socket_text: int = Field(
        default=50_000,
        ge=1,
        description="Characters a realtime socket may hold waiting to be spoken (buffered, or in segments "
        "not yet synthesized), all its contexts together; a message that would pass it is refused with "
        "text_backlog_exceeded. Above the longest message (40,000 characters), so any one message fits.",
    )
    header_timeout: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="Seconds a connection may take to send a request's complete head (from its first byte, "
        "or from when it was opened, TLS handshake included); a slower one is closed.",
    )
    max_head_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="The largest request head (request line and headers) accepted, in bytes; a larger one "
        "gets 431 request_header_fields_too_large and the connection is closed.",
    )
    max_connections: int = Field(
        default=4096,
        ge=1,
        description="Open connections one server process holds (lowered to fit the file limit); beyond it "
        "a new connection gets 503 service_unavailable, or is closed.",
    )
    max_connections_per_client: int = Field(
        default=256,
        ge=1,
        description="Open connections one client address (an IPv6 /64) holds per server process; beyond it "
        "429 too_many_connections, or closed. Behind a reverse proxy all clients share its address.",
    )
    history_max_audio_mb: float = Field(
        default=1024, ge=0, description="Audio kept in each key's history, in MB; the oldest goes first."
    )
    history_max_age_days: float = Field(
        default=30, ge=0, le=1_000_000, description="Days a history item keeps its audio (the item stays)."
    )
    charge_lease: float = Field(
        default=60.0,
        ge=1,
        le=86_400,
        description="Seconds a running request's pending charge lasts unless its server renews it (every "
        "third of this). The credits of requests a server was killed in the middle of come back once it "
        "lapses, from whichever server on the database sweeps next (at start-up and on every renewal).",
    )
    warm_up: bool = Field(default=True, description="Load and exercise every engine when the server starts.")
    shutdown_grace: float = Field(
        default=30.0, ge=0, description="Seconds a stopping server lets in-flight requests finish."
    )
    metrics: Literal["local", "open", "off"] = Field(
        default="local",
        description="Who may read GET /metrics: 'local' serves this machine's clients (loopback, not through "
        "a proxy) and others with INTONE_METRICS_TOKEN or an API key with the admin scope; 'open' anyone; "
        "'off' nobody (404).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="A bearer token (Authorization: Bearer ...) with which other machines, such as "
        "Prometheus, may read GET /metrics.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="The server's log: 'text', or 'json', one object a line with the request-id, key id "
        "(never the key), route, status and timings (`intone serve --log-format` overrides it).",
    )

    def engine_cache(self) -> Path:
        return self.engine_cache_dir or self.data_dir

    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'intone.db'}"

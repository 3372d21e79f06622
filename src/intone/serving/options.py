"""What `intone serve` decides about connections once, in its own process, for every worker to read.

Worker processes are started by uvicorn, which constructs the connection protocol itself, so the options
travel in one environment variable, as JSON.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from functools import cache
from typing import Literal

from intone.config import Settings

_VARIABLE = "_INTONE_LISTENER"

# off: plain HTTP only; shared: plain HTTP and TLS on the one port; only: TLS only (a plain request is
# answered 400 saying to use https://).
TlsMode = Literal["off", "shared", "only"]


@dataclass(frozen=True)
class ListenerOptions:
    tls: TlsMode
    certfile: str | None
    keyfile: str | None
    # What to tell the operator when a TLS hello arrives and TLS is off.
    tls_fix: str
    header_timeout: float
    max_head_bytes: int
    max_connections: int
    max_connections_per_client: int

    def export(self) -> None:
        """Hands these options to the worker processes (they inherit the environment)."""
        os.environ[_VARIABLE] = json.dumps(asdict(self))


@cache
def current() -> ListenerOptions:
    """The options `intone serve` exported; plain HTTP with the settings' caps when run otherwise."""
    exported = os.environ.get(_VARIABLE)
    if exported:
        return ListenerOptions(**json.loads(exported))
    settings = Settings()
    return ListenerOptions(
        tls="off",
        certfile=None,
        keyfile=None,
        tls_fix="serve with `intone serve`, which accepts TLS on the same port",
        header_timeout=settings.header_timeout,
        max_head_bytes=settings.max_head_bytes,
        max_connections=settings.max_connections,
        max_connections_per_client=settings.max_connections_per_client,
    )

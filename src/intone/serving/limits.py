"""Open connections counted per server process and per client, with a small budget for refusing politely.

A connection over a cap is not simply dropped: while a few of them are being refused (`REFUSALS`), each
gets a moment to send its request head and is answered in the API's error shape (429 for its client's
cap, 503 for the server's), so a well-behaved client learns why. Past that budget, or while the server
itself is short of descriptors, an extra connection is closed at once, which costs nothing.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass

from intone import metrics

# Connections being refused with an answer at once; beyond this an extra connection is closed unanswered.
REFUSALS = 64


@dataclass(frozen=True)
class Refusal:
    """The answer a connection over a cap gets (HTTP status, the body's `status` code, its message)."""

    http_status: int
    code: str
    message: str


@dataclass(eq=False)
class Lease:
    """One accepted connection's place in the table; `refusal` is set when it holds a refusal place."""

    table: ConnectionTable
    client: str
    refusal: Refusal | None = None
    released: bool = False

    def release(self) -> None:
        # Called from whichever protocol saw the connection end; only the first call counts.
        if not self.released:
            self.released = True
            self.table.release(self)


class ConnectionTable:
    """Counts of the open connections of one server process, in total and per client (`client_group`)."""

    def __init__(self, total: int, per_client: int, refusals: int = REFUSALS) -> None:
        self.total = total
        self.per_client = per_client
        self.refusals = refusals
        self.open = 0
        self.by_client: Counter[str] = Counter()
        self.refusing = 0

    def admit(self, host: str | None) -> Lease | None:
        """A lease for a new connection from `host`: a counted place, a refusal place (the connection is
        to be answered with its `refusal` and closed), or None: close it at once."""
        client = client_group(host)
        refusal = self._over(client)
        if refusal is None:
            self.open += 1
            self.by_client[client] += 1
            return Lease(self, client)
        if self.refusing >= self.refusals:
            return None
        self.refusing += 1
        return Lease(self, client, refusal)

    def release(self, lease: Lease) -> None:
        if lease.refusal is not None:
            self.refusing -= 1
            return
        self.open -= 1
        self.by_client[lease.client] -= 1
        if not self.by_client[lease.client]:
            del self.by_client[lease.client]

    def _over(self, client: str) -> Refusal | None:
        if self.by_client[client] >= self.per_client:
            metrics.refused("too_many_connections")
            return Refusal(
                429,
                "too_many_connections",
                f"Too many open connections from your address (at most {self.per_client}); close some "
                "and try again.",
            )
        if self.open >= self.total:
            return Refusal(
                503,
                "service_unavailable",
                f"The server has as many open connections as it takes ({self.total}); try again shortly.",
            )
        return None


def client_group(host: str | None) -> str:
    """What one client's connections are counted under: its IPv4 address, or its IPv6 /64 (one machine
    or network usually holds a whole /64, so single IPv6 addresses would not bound it)."""
    if not host:
        return ""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host  # a Unix socket path or a name: counted as given
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)

"""Caps on open realtime sockets: per key, and per server process.

An open socket holds no synthesis place while it is idle (see `intone.api.realtime`), but it does hold
a connection, its buffers and a file descriptor, so one key must not keep thousands open. A socket
takes one place in its key's socket gate and one in the server's once its caller is known, and gives
both back when it ends. The key's gate lives where the key's admission gates live (in Redis when
replicas share it, so the cap counts the key's sockets on every replica); the server's gate counts this
process's sockets, since file descriptors and memory are a process's own. Neither waits: a socket over
a cap is refused at once.
"""

from __future__ import annotations

import time

from starlette.datastructures import State

from intone.admission.gates import GateFull, Gates, GateTimeout, Hold, LocalGates
from intone.api.errors import ApiError
from intone.api.state import Services

SERVER_GATE = "sockets"


class SocketCaps:
    def __init__(self, keys: Gates, per_key: int, per_server: int) -> None:
        self._keys = keys
        self._server = LocalGates(max_waiting=0)
        self.per_key = per_key
        self.per_server = per_server

    async def take(self, subject: str) -> Hold:
        """A place for one socket of `subject`, among its key's and the server's. Raises ApiError 429
        (`too_many_open_sockets`, `system_busy`), or RedisUnavailable."""
        now = time.monotonic()  # the deadline: a full gate refuses at once, nobody queues for a socket
        try:
            key_hold = await self._keys.acquire(f"sockets:{subject}", self.per_key, 0, now)
        except (GateFull, GateTimeout):
            raise ApiError(
                429,
                "too_many_open_sockets",
                f"This key already has {self.per_key} realtime sockets open, the most one key may hold. "
                "Close one (or reuse one: a multi-stream-input socket carries several contexts), then retry.",
            ) from None
        try:
            server_hold = await self._server.acquire(SERVER_GATE, self.per_server, 0, now)
        except BaseException as error:
            await key_hold.release()
            if isinstance(error, GateFull | GateTimeout):
                raise ApiError(
                    429,
                    "system_busy",
                    f"The server already holds {self.per_server} realtime sockets open, as many as it "
                    "takes. Retry later.",
                ) from None
            raise

        async def release() -> None:
            await server_hold.release()
            await key_hold.release()

        return Hold(key_hold.current, release)


def socket_caps(state: State, svc: Services) -> SocketCaps:
    """The app's caps, made on first use beside its admission gates."""
    caps: SocketCaps | None = getattr(state, "socket_caps", None)
    if caps is None:
        settings = svc.settings
        caps = SocketCaps(svc.admission.keys, settings.max_sockets_per_key, settings.max_sockets)
        state.socket_caps = caps
    return caps

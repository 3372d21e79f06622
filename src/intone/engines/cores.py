"""How many CPU cores the engine call running in this thread may use.

The scheduler grants a step that is already due a second core when another worker has nothing to do
(`granted`); engines that can split one call between threads without changing its result read the
grant (`cores`). Everything else runs on one core, which does most work per core under load.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

# The most a grant gives: small windows gain little from more threads than two.
WIDEST = 2

_local = threading.local()


@contextmanager
def granted(count: int) -> Iterator[None]:
    """Engine calls made by this thread inside the block may use `count` cores."""
    previous = cores()
    _local.cores = max(1, min(count, WIDEST))
    try:
        yield
    finally:
        _local.cores = previous


def cores() -> int:
    return getattr(_local, "cores", 1)

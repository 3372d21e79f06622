"""The process's file-descriptor limit, and how many connections fit below it."""

from __future__ import annotations

import resource

from intone.serving.limits import REFUSALS

# Descriptors kept for the server's own files: the database and its lock, Redis and PostgreSQL pools,
# model files, logs, pipes of worker processes.
RESERVED = 256


def raise_file_limit() -> int:
    """Raises the soft limit on open files to the hard one (the default soft limit, often 1024, is what
    let idle connections starve everyone); returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass  # some systems cap it lower (macOS: OPEN_MAX); the current limit stands
    return soft


def connections_that_fit(file_limit: int) -> int:
    """The most connections one process can hold without running out of descriptors (one each, and one
    for each connection being refused)."""
    return max(1, file_limit - RESERVED - REFUSALS)

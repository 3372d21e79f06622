"""Files only the user running Intone may read.

The data directory holds the SQLite database (history text and audio, key names and hashes) and the
TLS private keys, so it is 0700 and those files 0600. Installs made before this was so are tightened at
start-up. (Modes mean little on Windows, where only the read-only flag is set from them.)
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

log = logging.getLogger("intone")

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
# SQLite's companions of a database file; it creates them with the database file's own mode.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def directory(path: Path) -> None:
    """Makes `path` (and missing parents, with the usual modes) and makes it 0700 even if it existed."""
    path.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
    _restrict(path, DIRECTORY_MODE)  # mkdir's mode goes through the umask; an existing one keeps its own


def new_directory(path: Path) -> None:
    """Makes `path` 0700 if it does not exist; one that does is left as it is (it may be shared, like
    the directory of a database the operator placed)."""
    path.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)


def sqlite_database(path: Path) -> None:
    """Creates the database file at `path` empty if it is missing, so SQLite never makes it with the
    umask's mode (0644 by default), and makes it and its companions 0600."""
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT, FILE_MODE))
    _restrict(path, FILE_MODE)
    for suffix in SQLITE_COMPANIONS:
        # Left over from a run before this one, or another process's: such files come and go.
        with contextlib.suppress(FileNotFoundError):
            _restrict(path.with_name(path.name + suffix), FILE_MODE)


def _restrict(path: Path, mode: int) -> None:
    if path.stat().st_mode & 0o777 == mode:
        return
    try:
        path.chmod(mode)
    except PermissionError as error:  # another user's file: the server still runs, with a warning
        log.warning("could not make %s readable by its owner only: %s", path, error)

"""Writes one benchmark's section of docs/benchmarks.md, leaving the other sections alone."""

from __future__ import annotations

import datetime
import platform
from pathlib import Path


def update_section(path: Path, key: str, title: str, body: str) -> None:
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    stamp = f"_Measured {datetime.date.today()} on {platform.machine()}, {_cores()} cores._"
    section = f"{start}\n## {title}\n\n{stamp}\n\n{body}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def _cores() -> int:
    import os

    return os.cpu_count() or 1

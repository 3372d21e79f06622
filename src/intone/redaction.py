"""Keeps credentials out of the logs: uvicorn logs every request's path with its query string, and a
WebSocket client may put a key or token there (`?authorization=...`, `?single_use_token=...`)."""

from __future__ import annotations

import logging
import re

_SECRET_PARAMETER = re.compile(
    r"(?i)([?&](?:authorization|single_use_token|token|xi-api-key|xi_api_key|api_key)=)[^&\s\"]*"
)


def redact(text: str) -> str:
    return _SECRET_PARAMETER.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())

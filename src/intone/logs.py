"""The server's log for operators: `--log-format json` (or INTONE_LOG_FORMAT=json) writes one JSON object a
line, uvicorn's own records included, with the request each record belongs to (its request-id, the key
id, never the key, and its route).

Each request ends with one access line from `intone.access` (status and timings); in JSON it replaces
uvicorn's access line, which is written as a response starts and so knows no timings. In text the log
is as it was: uvicorn's access line, and no `intone.access` line. Records pass through the same
redaction as in text (`intone.redaction`), and so does the traceback of an error, which the text
format never redacted either.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

from intone import metrics
from intone.metrics import RequestRecord
from intone.redaction import redact

LogFormat = Literal["text", "json"]
ACCESS_LOGGER = "intone.access"
# What a record may carry about its request, in the order a line shows them.
_REQUEST_FIELDS = (
    "request_id",
    "key_id",
    "method",
    "route",
    "path",
    "status",
    "model",
    "ttfb_ms",
    "duration_ms",
)


def request_fields(record: RequestRecord) -> dict[str, Any]:
    """What any log line made during a request says about it."""
    return {
        "request_id": record.request_id,
        "key_id": record.caller_id,
        "method": record.method,
        "route": record.route,
        "path": record.path,
    }


def access_fields(record: RequestRecord) -> dict[str, Any]:
    """What a request's access line says: the above, its status, model and timings."""
    return {
        **request_fields(record),
        "status": record.status,
        "model": record.model,
        "ttfb_ms": _milliseconds(record.seconds(record.first_byte)),
        "duration_ms": _milliseconds(record.seconds(record.ended)),
    }


def _milliseconds(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


class RequestContext(logging.Filter):
    """Gives every record made during a request (in its task or the threads it waits for) that request's
    fields, unless the record sets them itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = metrics.current()
        if current is not None:
            for name, value in request_fields(current).items():
                if not hasattr(record, name):
                    setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, and the request's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _REQUEST_FIELDS:
            if (value := getattr(record, name, None)) is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)


def apply_format(config: dict[str, Any], log_format: LogFormat) -> dict[str, Any]:
    """`config` (uvicorn's logging configuration, with Intone's loggers) made to write `log_format`."""
    if log_format == "text":
        config["loggers"][ACCESS_LOGGER] = {"level": "WARNING"}  # uvicorn's access line says it
        return config
    config["formatters"]["json"] = {"()": "intone.logs.JsonFormatter"}
    config.setdefault("filters", {})["request"] = {"()": "intone.logs.RequestContext"}
    for handler in config["handlers"].values():
        handler["formatter"] = "json"
        handler["filters"] = [*handler.get("filters", []), "request"]
    # The access line with timings replaces uvicorn's (which then costs nothing: it has no handler).
    config["loggers"]["uvicorn.access"] = {"handlers": [], "propagate": False}
    return config

"""`--log-format json`: a JSON object a line, with the request's ids, through the same redaction as text."""

from __future__ import annotations

import io
import json
import logging
from types import SimpleNamespace

from intone import metrics
from intone.cli import _log_config
from intone.logs import JsonFormatter, RequestContext
from intone.metrics import RequestRecord
from intone.redaction import RedactSecrets

SECRET = "sk_0123456789abcdef0123456789abcdef"


def _logger(name: str) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecrets())
    handler.addFilter(RequestContext())
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def _record() -> RequestRecord:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/text-to-speech/Brian",
        "state": {"request_id": "abc123", "caller": SimpleNamespace(subject="key_42")},
    }
    return RequestRecord(scope)


def test_a_record_made_during_a_request_carries_its_ids():
    logger, out = _logger("tests.logs.during")
    with metrics.recording(_record()):
        logger.info("speaking for %s", "someone")
    line = json.loads(out.getvalue())
    assert line["message"] == "speaking for someone"
    assert line["level"] == "info" and line["logger"] == "tests.logs.during"
    assert line["request_id"] == "abc123" and line["key_id"] == "key_42"
    assert line["method"] == "POST" and line["path"] == "/v1/text-to-speech/Brian"
    assert line["time"].endswith("+00:00")


def test_a_record_outside_requests_has_no_request_fields():
    logger, out = _logger("tests.logs.outside")
    logger.warning("engines loaded")
    line = json.loads(out.getvalue())
    assert "request_id" not in line and "key_id" not in line


def test_secrets_are_redacted_in_messages_and_tracebacks():
    logger, out = _logger("tests.logs.secret")
    logger.info("GET /v1/x?authorization=%s", SECRET)
    try:
        raise ValueError(f'bad frame {{"xi_api_key": "{SECRET}"}}')
    except ValueError:
        logger.exception("a socket failed")
    text = out.getvalue()
    assert SECRET not in text
    first, second = (json.loads(line) for line in text.splitlines())
    assert first["message"] == "GET /v1/x?authorization=[redacted]"
    assert '"xi_api_key": "[redacted]"' in second["exception"]


def test_the_server_config_writes_every_record_as_json_and_drops_uvicorns_access_line():
    config = _log_config("info", "json")
    assert config["loggers"]["uvicorn.access"] == {"handlers": [], "propagate": False}
    assert config["formatters"]["json"] == {"()": "intone.logs.JsonFormatter"}
    for handler in config["handlers"].values():
        assert handler["formatter"] == "json" and "request" in handler["filters"]
    assert "redact" in config["handlers"]["intone"]["filters"]


def test_the_text_config_keeps_uvicorns_access_line_and_has_no_second_one():
    config = _log_config("info")
    assert "uvicorn.access" in config["loggers"] and config["loggers"]["uvicorn.access"].get("handlers")
    assert config["loggers"]["intone.access"] == {"level": "WARNING"}

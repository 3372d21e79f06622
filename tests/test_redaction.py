import logging

from intone.redaction import RedactSecrets, redact


def test_credentials_in_query_strings_are_redacted():
    path = "/v1/text-to-speech/x/stream-input?model_id=m&authorization=Bearer%20k&single_use_token=t"
    assert redact(path) == (
        "/v1/text-to-speech/x/stream-input?model_id=m&authorization=[redacted]&single_use_token=[redacted]"
    )
    assert redact("/v1/models?page=2") == "/v1/models?page=2"


def test_the_filter_rewrites_uvicorn_style_records():
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s"', ("1.2.3.4", "GET", "/a?token=s"), None
    )
    assert RedactSecrets().filter(record)
    assert record.getMessage() == '1.2.3.4 - "GET /a?token=[redacted]"'

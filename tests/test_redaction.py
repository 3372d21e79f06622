import asyncio
import io
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from starlette.datastructures import QueryParams
from uvicorn.logging import TRACE_LOG_LEVEL, AccessFormatter
from uvicorn.middleware.message_logger import MessageLoggerMiddleware
from websockets.frames import Frame, Opcode
from websockets.server import ServerProtocol

from intone import redaction
from intone.redaction import RedactSecrets, redact

SECRETS = (
    "sk_header_secret",
    "sk_bearer_secret",
    "sutkn_query_secret",
    "sk_message_secret",
    "sk_list_secret",
    "sk_tail",
)
# The parameter names the app authenticates with, as Starlette hands them over.
SECRET_NAMES = {"authorization", "single_use_token", "token", "xi-api-key", "xi_api_key", "api_key"}


@contextmanager
def captured(name: str, level: int) -> Iterator[io.StringIO]:
    """What the real, filtered logger `name` writes at `level`, formatted."""
    redaction.install()
    logger = logging.getLogger(name)
    saved = logger.level, logger.propagate
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    try:
        yield out
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def _record(msg: object, args: object) -> logging.LogRecord:
    record = logging.LogRecord("uvicorn.error", logging.DEBUG, __file__, 1, msg, None, None)
    record.args = args  # type: ignore[assignment]  # as given, not as LogRecord would normalise it
    return record


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


def test_percent_encoded_names_are_redacted_as_starlette_decodes_them():
    path = "/v1/x?single%5Fuse%5Ftoken=sutkn_abc&%61uthorization=sk_live&x%2Dapi=keep"
    assert redact(path) == "/v1/x?single%5Fuse%5Ftoken=[redacted]&%61uthorization=[redacted]&x%2Dapi=keep"


@pytest.mark.parametrize(
    "query",
    [
        "single%5Fuse%5Ftoken=sutkn_abc&%61uthorization=sk_live",
        "a=1&&Authorization=sk_a&xi%2dapi%2dkey=sk_b&b=2",
        "xi%5Fapi%5Fkey=sk_c&token=t%26still&api_key=k=v",
        "model_id=m&authorization=sk_d%22quoted",
    ],
)
def test_no_value_starlette_would_read_as_a_credential_survives(query: str):
    line = f'127.0.0.1:1234 - "GET /v1/x?{query} HTTP/1.1" 101'
    redacted = redact(line)
    for name, value in QueryParams(query).multi_items():
        if name.lower() in SECRET_NAMES:
            assert value not in redacted
        else:
            assert f"{name}={value}" in redacted
    assert redacted.startswith('127.0.0.1:1234 - "GET /v1/x?') and redacted.endswith(' HTTP/1.1" 101')


def test_the_access_log_keeps_its_shape_for_uvicorns_formatter():
    with captured("uvicorn.access", logging.INFO) as out:
        logger = logging.getLogger("uvicorn.access")
        logger.handlers[-1].setFormatter(
            AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s')
        )
        logger.info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1234", "GET", "/v1/x?%61uthorization=sk_q", "1.1", 101
        )
    assert (
        out.getvalue()
        == '127.0.0.1:1234 - "GET /v1/x?%61uthorization=[redacted] HTTP/1.1" 101 Switching Protocols\n'
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("< xi-api-key: sk_1", "< xi-api-key: [redacted]"),
        ("< Authorization: Bearer sk_2", "< Authorization: Bearer [redacted]"),
        ("< Cookie: session=s3; theme=dark", "< Cookie: [redacted]"),
        ("> Set-Cookie: session=s4", "> Set-Cookie: [redacted]"),
        ("< X-Refresh-Token: t5", "< X-Refresh-Token: [redacted]"),
        (
            "Host: h\r\nProxy-Authorization: Basic dXNlcg==\r\n",
            "Host: h\r\nProxy-Authorization: Basic [redacted]\r\n",
        ),
        ("< Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "< Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="),
        ('{"text": " ", "xi\\u005fapi_key": "sk_6"}', '{"text": " ", "xi\\u005fapi_key": "[redacted]"}'),
        (
            '{"authorization" : "Bearer sk_7", "voice_settings": {}}',
            '{"authorization" : "[redacted]", "voice_settings": {}}',
        ),
        (
            "'query_string': b'model_id=m&token=t8', 'headers': '<...>'",
            "'query_string': b'model_id=m&token=[redacted]', 'headers': '<...>'",
        ),
    ],
)
def test_headers_json_fields_and_reprs_are_redacted(line: str, expected: str):
    assert redact(line) == expected
    assert redact(expected) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"text": " ", "xi_api_key": ["sk_1"]}', '{"text": " ", "xi_api_key": "[redacted]"}'),
        ('{"xi-api-key": {"k": ["sk_2", "]"]}, "text": "x"}', '{"xi-api-key": "[redacted]", "text": "x"}'),
        ('{"authorization": 12345678, "flush": true}', '{"authorization": "[redacted]", "flush": true}'),
        ('{"api_key": true}', '{"api_key": "[redacted]"}'),
        ('{"token": -1.5e3}', '{"token": "[redacted]"}'),
        ('[{"outer": {"single_use_token": ["t"]}}]', '[{"outer": {"single_use_token": "[redacted]"}}]'),
        # Cut short by an elided log line: all that follows the name may be part of the key.
        ('{"xi_api_key": [["sk_3', '{"xi_api_key": "[redacted]"'),
        # Text is not read as fields, whatever it holds.
        ('{"text": "a \\"token\\": [1]", "n": [1]}', '{"text": "a \\"token\\": [1]", "n": [1]}'),
    ],
)
def test_a_credential_field_is_redacted_whatever_the_type_of_its_value(line: str, expected: str):
    assert redact(line) == expected
    assert redact(expected) == expected


def _client_frame(opcode: Opcode, payload: str, fin: bool = True) -> bytes:
    return Frame(opcode, payload.encode(), fin=fin).serialize(mask=True)


def test_websockets_debug_logging_of_a_handshake_and_frames_shows_no_credential():
    with captured("uvicorn.error", logging.DEBUG) as out:
        # As uvicorn's default `--ws auto` wires it: the sans-I/O protocol, logging to `uvicorn.error`.
        protocol = ServerProtocol(logger=logging.getLogger("uvicorn.error"))
        protocol.receive_data(
            b"GET /v1/text-to-speech/v1/stream-input?model_id=m&single_use_token=sutkn_query_secret"
            b" HTTP/1.1\r\n"
            b"Host: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            b"xi-api-key: sk_header_secret\r\nAuthorization: Bearer sk_bearer_secret\r\n\r\n"
        )
        [request] = protocol.events_received()
        protocol.send_response(protocol.accept(request))
        protocol.receive_data(_client_frame(Opcode.TEXT, '{"text": " ", "xi_api_key": "sk_message_secret"}'))
        # A key the app would refuse for its type is still a key.
        protocol.receive_data(_client_frame(Opcode.TEXT, '{"text": " ", "xi_api_key": ["sk_list_secret"]}'))
        # Long enough that websockets elides the middle and shows the tail, where this key sits.
        protocol.receive_data(
            _client_frame(Opcode.TEXT, '{"text": "' + "words " * 40 + '", "xi_api_key": "sk_tail_secret"}')
        )
        # A key split across fragments: neither half names the field.
        protocol.receive_data(_client_frame(Opcode.TEXT, '{"xi_api_key": "sk_header', fin=False))
        protocol.receive_data(_client_frame(Opcode.CONT, '_secret"}'))
        protocol.send_text(b'{"audio": "AAAA", "isFinal": null}')
        protocol.send_close(1000, "bye")
    logged = out.getvalue()

    assert not [secret for secret in SECRETS if secret in logged]
    assert "_secret" not in logged  # not even the half of a key in a continuation frame
    for kept in (
        "< GET /v1/text-to-speech/v1/stream-input?model_id=m&single_use_token=[redacted] HTTP/1.1",
        "< Host: localhost",
        "< Sec-WebSocket-Version: 13",
        "< xi-api-key: [redacted]",
        "< Authorization: Bearer [redacted]",
        "> HTTP/1.1 101 Switching Protocols",
        """< TEXT '{"text": " ", "xi_api_key": "[redacted]"}'""",
        "< TEXT [25 bytes withheld, continued]",
        "< CONT [9 bytes withheld]",
        """> TEXT '{"audio": "AAAA", "isFinal": null}' [34 bytes]""",
        "> CLOSE 1000 (OK) bye",
    ):
        assert kept in logged


def test_the_legacy_websockets_frame_is_redacted_too():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from websockets.legacy.framing import Frame as LegacyFrame

    record = _record("< %s", (LegacyFrame(True, Opcode.TEXT, b'{"authorization": "Bearer sk_legacy"}'),))
    assert RedactSecrets().filter(record)
    assert record.getMessage() == """< TEXT '{"authorization": "[redacted]"}' [31 bytes]"""


def test_trace_logging_of_the_asgi_scope_shows_no_query_credential():
    async def app(scope: object, receive: object, send: object) -> None:
        pass

    scope = {
        "type": "websocket",
        "path": "/v1/text-to-speech/v1/stream-input",
        "query_string": b"model_id=m&%61uthorization=sk_scope_secret",
        "headers": [(b"xi-api-key", b"sk_scope_header")],
        "client": ("127.0.0.1", 1234),
    }
    with captured("uvicorn.asgi", TRACE_LOG_LEVEL) as out:
        asyncio.run(MessageLoggerMiddleware(app)(scope, None, None))  # type: ignore[arg-type]
    logged = out.getvalue()
    assert "sk_scope" not in logged
    assert "'query_string': b'model_id=m&%61uthorization=[redacted]'" in logged
    assert "Started scope=" in logged and "Completed" in logged


@pytest.mark.parametrize(
    ("msg", "args", "expected"),
    [
        ("%(path)s by %(who)s", {"path": "/a?token=t", "who": "me"}, "/a?token=[redacted] by me"),
        ("path %s", "/a?api_key=k", "path /a?api_key=[redacted]"),
        ("no args, /a?token=t", None, "no args, /a?token=[redacted]"),
        ("%d frames", (3,), "3 frames"),
    ],
)
def test_the_filter_takes_any_shape_of_args(msg: str, args: object, expected: str):
    record = _record(msg, args)
    assert RedactSecrets().filter(record)
    assert record.getMessage() == expected


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


@pytest.mark.parametrize(
    ("msg", "args"), [("%s", (_Unprintable(),)), ("%s %s", ("one",)), (_Unprintable(), ())]
)
def test_the_filter_never_raises_and_never_passes_on_what_it_could_not_check(msg: object, args: object):
    record = _record(msg, args)
    assert RedactSecrets().filter(record)
    assert record.getMessage().startswith("[log record withheld: redaction failed")

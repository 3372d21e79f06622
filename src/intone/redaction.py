"""Keeps credentials out of uvicorn's logs.

Where they would show: the access log and uvicorn's WebSocket messages carry the path with its query
string (`?authorization=...`, `?single_use_token=...`); at `--log-level debug` websockets, handed the
`uvicorn.error` logger, logs every handshake header (`< xi-api-key: sk_...`) and every frame, whose text
may be a first message with `"xi_api_key": "sk_..."`; at `trace` the `uvicorn.asgi` logger prints each
scope, `query_string` included."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Mapping
from urllib.parse import unquote_plus

from websockets.frames import CONT, DATA_OPCODES, Frame

REDACTED = "[redacted]"

# Query parameters and JSON fields that hold a key or token, as the app reads them once decoded.
_SECRET_NAMES = frozenset(
    {"authorization", "single_use_token", "token", "xi-api-key", "xi_api_key", "api_key"}
)
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_SECRET_HEADER_PARTS = ("token", "api-key", "api_key", "apikey")

# `name=value` wherever it stands (a path, a bytes repr of a query string): the name in its raw,
# possibly percent-encoded spelling; the value up to `&`, whitespace, or a quote that closes the text.
_QUERY_PAIR = re.compile(r"(?<![\w%.+~-])([\w%.+~-]+)=((?:[^\s&\"']|[\"'](?![\s,;:)\]}>]|$))*)")
# A header as websockets logs it (`< name: value`), or a line of a dumped header block.
_HEADER_LINE = re.compile(r"(?m)^((?:[<>] )?([!#$%&'*+.^_`|~\w-]+):[ \t]*)([^\r\n]*)")
# `"name": `, then its value: a string, an array or object, or a bare number, `true` or the like.
_JSON_NAME = re.compile(r'"((?:[^"\\]|\\.)*)"(\s*:\s*)')
# A JSON string, possibly cut short by an elided log line.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?')
_JSON_SCALAR = re.compile(r"[^\s,\]}]*")
_SCHEME = re.compile(r"[A-Za-z]+ +(?=\S)")


def redact(text: str) -> str:
    """`text` with every credential it holds replaced by `[redacted]`, all else left as it was."""
    text = _HEADER_LINE.sub(_redact_header, text)
    text = _redact_json_fields(text)
    return _QUERY_PAIR.sub(_redact_query_pair, text)


def _redact_header(match: re.Match[str]) -> str:
    name = match[2].lower()
    if name not in _SECRET_HEADERS and not any(part in name for part in _SECRET_HEADER_PARTS):
        return match[0]
    # The scheme (`Bearer`, `Basic`) tells a reader what the client sent without revealing it.
    scheme = _SCHEME.match(match[3])
    return f"{match[1]}{scheme[0] if scheme else ''}{REDACTED}"


def _redact_json_fields(text: str) -> str:
    # A client may send a key as a list, an object or a number (`{"xi_api_key": ["sk_..."]}`): the app
    # refuses it, but the frame is logged first, so the whole value goes, whatever its type.
    parts: list[str] = []
    pos = 0
    while match := _JSON_NAME.search(text, pos):
        if _is_secret_name(match[1]):
            parts += [text[pos : match.end()], f'"{REDACTED}"']
            pos = _json_value_end(text, match.end())
        elif text.startswith('"', match.end()):
            # Skipped whole, so the text a client speaks is never read as fields.
            end = _end_of(_JSON_STRING, text, match.end())
            parts.append(text[pos:end])
            pos = end
        else:
            # An array or object is searched in turn: it may hold a credential field of its own.
            parts.append(text[pos : match.end()])
            pos = match.end()
    return "".join(parts) + text[pos:]


def _is_secret_name(raw: str) -> bool:
    try:
        name = json.loads(f'"{raw}"')  # `"xi\u005fapi_key"` is the same field to the app
    except ValueError:
        name = raw
    return name.lower() in _SECRET_NAMES


def _json_value_end(text: str, start: int) -> int:
    """Where the JSON value at `start` ends; the end of `text` for an array or object cut short."""
    if text.startswith('"', start):
        return _end_of(_JSON_STRING, text, start)
    if not text.startswith(("[", "{"), start):
        return _end_of(_JSON_SCALAR, text, start)
    depth = 0
    pos = start
    while pos < len(text):
        char = text[pos]
        if char == '"':
            pos = _end_of(_JSON_STRING, text, pos)
            continue
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return pos + 1
        pos += 1
    return pos


def _end_of(pattern: re.Pattern[str], text: str, start: int) -> int:
    match = pattern.match(text, start)
    assert match is not None  # a string's closing quote and a scalar's characters are all optional
    return match.end()


def _redact_query_pair(match: re.Match[str]) -> str:
    # Starlette decodes names, so `%61uthorization` and `single%5Fuse%5Ftoken` still authenticate.
    if unquote_plus(match[1]).lower() not in _SECRET_NAMES:
        return match[0]
    return f"{match[1]}={REDACTED}"


def _describe_frame(frame: Frame) -> str:
    """The frame as websockets would log it, minus any credential in its payload."""
    if frame.opcode not in DATA_OPCODES:
        return str(frame)  # close codes and pings: useful, and never a credential
    text = _whole_text(frame)
    if text is None:
        # A fragment can hold part of a key with its name in another frame, and websockets shows
        # binary as a few hex bytes: neither can be checked, so only the size shows.
        more = "" if frame.fin else ", continued"
        return f"{frame.opcode.name} [{len(frame.data)} bytes withheld{more}]"
    redacted = redact(text)
    # Redacting the whole payload before websockets elides its middle: the tail it shows can't be a key.
    # (The size shown is then the redacted payload's.)
    return str(frame) if redacted == text else str(dataclasses.replace(frame, data=redacted.encode()))


def _whole_text(frame: Frame) -> str | None:
    """The payload if it is a whole message of UTF-8 text, the only kind whose fields can be checked."""
    if not frame.fin or frame.opcode is CONT:
        return None
    try:
        return bytes(frame.data).decode()
    except UnicodeDecodeError:
        return None


def _redact_arg(arg: object) -> object:
    if isinstance(arg, str):
        return redact(arg)
    if isinstance(arg, Frame):
        return _describe_frame(arg)
    # `--ws websockets` (the legacy implementation) logs a NamedTuple wrapping the same Frame.
    if isinstance(arg, tuple) and isinstance(legacy := getattr(arg, "new_frame", None), Frame):
        return _describe_frame(legacy)
    return arg


def _redact_args(args: object) -> object:
    if isinstance(args, Mapping):
        return {key: _redact_arg(value) for key, value in args.items()}
    if isinstance(args, tuple):
        return tuple(_redact_arg(arg) for arg in args)
    return _redact_arg(args)  # a lone argument, which `msg % args` takes as it is


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            _redact_record(record)
        except Exception as error:
            # A filter that raises breaks logging, and logging's own error report prints the arguments.
            record.msg, record.args = f"[log record withheld: redaction failed ({type(error).__name__})]", ()
        return True


def _redact_record(record: logging.LogRecord) -> None:
    # Arguments one by one first: uvicorn's access formatter unpacks them, so they must keep their shape.
    record.args = _redact_args(record.args)  # type: ignore[assignment]
    # Then the whole message, for what no single argument shows: a header's name and value are two.
    message = record.getMessage()
    redacted = redact(message)
    if redacted != message:
        record.msg, record.args = redacted, ()


def install() -> None:
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())

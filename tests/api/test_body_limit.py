"""Request bodies are bounded (INTONE_MAX_BODY_BYTES), and a request without a key is refused before its
body is read: on a real server over raw sockets (so a test can stop after the headers), and on the
middleware alone for what a socket cannot see (how much of a body was read)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from http.client import HTTPResponse

import pytest
from elevenlabs.client import ElevenLabs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import Message

from intone.api.auth import missing_key
from intone.api.body_limit import BodyLimit
from intone.config import Settings

pytestmark = pytest.mark.slow

SPEAK = "/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb"
LIMIT = Settings().max_body_bytes  # what the shared server runs with
TIMEOUT = 5  # seconds: far more than an answer takes, far less than a server waiting for a body


@pytest.fixture
def connection(server) -> Iterator[socket.socket]:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
        yield sock


def _head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _response(sock: socket.socket) -> tuple[HTTPResponse, dict]:
    """The server's answer; a timeout here means it was still waiting for the body."""
    response = HTTPResponse(sock)
    response.begin()
    return response, json.loads(response.read())


def test_a_content_length_over_the_limit_gets_413_before_the_body_is_sent(server, connection):
    connection.sendall(_head(SPEAK, f"xi-api-key: {server.api_key}", f"Content-Length: {LIMIT + 1}"))
    response, body = _response(connection)
    assert response.status == 413
    assert body["detail"]["status"] == "payload_too_large"
    assert str(LIMIT) in body["detail"]["message"] and "INTONE_MAX_BODY_BYTES" in body["detail"]["message"]
    assert response.getheader("connection") == "close"  # the unread body is not drained
    assert connection.recv(1) == b""
    assert len(response.getheader("request-id", "")) == 32


def test_a_chunked_body_gets_413_once_it_passes_the_limit(server, connection):
    connection.sendall(_head(SPEAK, f"xi-api-key: {server.api_key}", "Transfer-Encoding: chunked"))
    # Exactly one byte over, and no final chunk: the server has read all of it when it answers, so it
    # closes cleanly (unread bytes would make it reset the connection).
    piece = b"x" * 65_536
    left = LIMIT + 1
    while left:
        chunk = piece[: min(left, len(piece))]
        connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        left -= len(chunk)
    response, body = _response(connection)
    assert response.status == 413
    assert body["detail"]["status"] == "payload_too_large"
    assert response.getheader("connection") == "close"


@pytest.mark.parametrize("length", [LIMIT * 64, 1000])
def test_a_request_without_a_key_gets_401_before_its_body_is_sent(connection, length):
    connection.sendall(_head(SPEAK, f"Content-Length: {length}"))
    response, body = _response(connection)
    expected = missing_key()
    assert response.status == expected.http_status == 401
    assert body == {"detail": {"status": expected.status, "message": expected.message}}
    # Over the limit the connection closes; a small rest is left for the server to skip, and the
    # connection serves the next request.
    if length > LIMIT:
        assert response.getheader("connection") == "close"
    else:
        assert response.getheader("connection") is None
        connection.sendall(b"{" * length + b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert _response(connection)[1] == {"status": "ok"}


def test_a_chunked_request_without_a_key_gets_401_before_its_body_is_sent(connection):
    connection.sendall(_head("/admin/keys", "Transfer-Encoding: chunked"))
    response, body = _response(connection)
    assert response.status == 401 and body["detail"]["status"] == "invalid_api_key"
    assert response.getheader("connection") == "close"


def test_public_and_unknown_routes_answer_as_before(connection):
    connection.sendall(_head("/v1/voices/JBFqnCBsd6RMkjVDRZzb/preview", "Content-Length: 2") + b"{}")
    assert _response(connection)[0].status == 405  # a public route: not a 401
    connection.sendall(_head("/v1/no-such-thing", "Content-Length: 2") + b"{}")
    assert _response(connection)[0].status == 404


def test_an_sdk_request_near_the_limit_is_served(server):
    """A guard, not a fix: context as long as the longest text leaves the body far under the limit."""
    client = ElevenLabs(base_url=server.url, api_key=server.api_key)
    audio = client.text_to_speech.convert(
        "nPczCjzI2devNBz1zQrb",
        text="Hello there.",
        model_id="eleven_flash_v2",
        previous_text="\U0001f600" * 40_000,  # 12 bytes each as the JSON escape of a surrogate pair
        next_text="\U0001f600" * 40_000,
    )
    assert len(b"".join(audio)) > 1000


# The middleware alone, with a limit of 100 bytes.


async def _echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(await request.body())))


_ROUTE = Route("/speak", _echo, methods=["POST"])
_APP = Starlette(routes=[_ROUTE])


def _call(keyed: list[Route], headers: dict[str, str], chunks: list[bytes]) -> tuple[list[Message], int]:
    """The messages sent back, and how many body chunks the app asked for."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/speak",
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    asked = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal asked
        asked += 1
        return {"type": "http.request", "body": chunks[asked - 1], "more_body": asked < len(chunks)}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(BodyLimit(_APP, 100, keyed)(scope, receive, send))
    return sent, asked


@pytest.mark.parametrize("keyed", [[_ROUTE], []], ids=["auth", "auth-off"])
def test_a_body_without_a_length_is_read_only_up_to_the_limit(keyed):
    sent, asked = _call(keyed, {"xi-api-key": "k", "transfer-encoding": "chunked"}, [b"x" * 30] * 1000)
    assert sent[0]["status"] == 413 and asked == 4
    assert json.loads(sent[1]["body"])["detail"]["status"] == "payload_too_large"


def test_with_auth_off_a_request_without_a_key_reaches_the_route():
    sent, _ = _call([], {"content-length": "100"}, [b"x" * 100])
    assert sent[0]["status"] == 200 and sent[1]["body"] == b"100"


def test_with_auth_on_a_request_without_a_key_is_not_read():
    sent, asked = _call([_ROUTE], {"content-length": "100"}, [b"x" * 100])
    assert sent[0]["status"] == 401 and asked == 0

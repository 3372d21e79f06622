"""Connection limits of a real `intone serve`: a deadline on request heads, and caps on open connections
per client address and per server process, answered in the API's error shape.

Floods come from other loopback addresses (127.0.0.2, 127.0.0.3, ...: Linux routes all of 127/8 to the
loopback interface), so that the test's own requests from 127.0.0.1 count as another client.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.api.server import Server, serving
from tests.api.ws import ws_url

pytestmark = pytest.mark.slow

HEAD_TIMEOUT = 1.5
PER_CLIENT = 4
TOTAL = 10
MAX_HEAD = 16 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    env = {
        "INTONE_WARM_UP": "false",
        "INTONE_HEADER_TIMEOUT": str(HEAD_TIMEOUT),
        "INTONE_MAX_CONNECTIONS_PER_CLIENT": str(PER_CLIENT),
        "INTONE_MAX_CONNECTIONS": str(TOTAL),
        "INTONE_MAX_HEAD_BYTES": str(MAX_HEAD),
    }
    with serving(tmp_path_factory.mktemp("intone-connections"), env=env) as running:
        yield running


def _connect(server: Server, source: str = "127.0.0.1") -> socket.socket:
    connection = socket.socket()
    connection.bind((source, 0))
    connection.connect(("127.0.0.1", httpx.URL(server.url).port))
    return connection


def _seconds_until_closed(connection: socket.socket, limit: float = 10) -> float:
    """Seconds until the server closes `connection` (which it must do without answering)."""
    connection.settimeout(limit)
    started = time.monotonic()
    assert connection.recv(1024) == b""
    return time.monotonic() - started


def _answer(connection: socket.socket, extra: bytes = b"") -> tuple[int, dict[str, str], dict]:
    """Sends a request head and reads the whole answer (the server closes after it)."""
    connection.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + b"\r\n")
    return _read_answer(connection)


def _read_answer(connection: socket.socket) -> tuple[int, dict[str, str], dict]:
    connection.settimeout(5)
    data = b""
    while chunk := connection.recv(4096):
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    return int(status_line.split()[1]), headers, json.loads(body)


def _health(server: Server) -> int:
    return httpx.get(f"{server.url}/health", timeout=5).status_code


def test_a_silent_connection_is_closed_after_the_head_timeout(server):
    with _connect(server) as connection:
        assert HEAD_TIMEOUT - 0.2 < _seconds_until_closed(connection) < HEAD_TIMEOUT + 1.5


def test_a_half_sent_head_is_closed_after_the_head_timeout(server):
    with _connect(server) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nx-slow: ")
        assert _seconds_until_closed(connection) < HEAD_TIMEOUT + 1.5


def test_a_second_request_on_a_kept_connection_has_the_same_deadline(server):
    with _connect(server) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        connection.settimeout(5)
        answer = b""
        while not answer.endswith(b'{"status":"ok"}'):
            answer += connection.recv(1024)
        assert answer.startswith(b"HTTP/1.1 200")
        time.sleep(HEAD_TIMEOUT)  # idle past the deadline is fine: only a begun head is timed
        connection.sendall(b"GET /health HTTP/1.1\r\n")
        started = time.monotonic()
        assert _seconds_until_closed(connection) < HEAD_TIMEOUT + 1.5
        assert time.monotonic() - started > HEAD_TIMEOUT - 0.2


@pytest.mark.parametrize("endless", [False, True])
def test_a_head_over_the_size_limit_gets_431(server, endless):
    assert httpx.get(f"{server.url}/health", headers={"x-padding": "a" * (MAX_HEAD // 2)}).status_code == 200
    with _connect(server) as connection:
        if endless:  # one header that has not ended past the limit
            connection.sendall(b"GET /health HTTP/1.1\r\nx-padding: " + b"a" * MAX_HEAD)
            status, _, body = _read_answer(connection)
        else:  # a whole head, three headers of half the limit each, in one piece
            padding = b"x-padding: " + b"a" * (MAX_HEAD // 2) + b"\r\n"
            status, _, body = _answer(connection, padding * 3)
    assert status == 431 and body["detail"]["status"] == "request_header_fields_too_large"
    assert "Traceback" not in server.log_text()


def test_one_address_over_its_cap_is_refused_while_others_are_served(server):
    with ExitStack() as stack:
        flood = [stack.enter_context(_connect(server, "127.0.0.2")) for _ in range(PER_CLIENT)]
        for connection in flood:
            connection.sendall(b"GET /health HTTP/1.1\r\n")  # a head begun, never finished
        status, headers, body = _answer(stack.enter_context(_connect(server, "127.0.0.2")))
        assert status == 429 and headers["retry-after"] == "1" and headers["request-id"]
        assert body["detail"]["status"] == "too_many_connections"
        assert _health(server) == 200  # another client is served meanwhile
    # The flood's places are given back as its connections close.
    time.sleep(0.3)
    with _connect(server, "127.0.0.2") as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        connection.settimeout(5)
        assert connection.recv(1024).startswith(b"HTTP/1.1 200")


def test_the_server_cap_answers_503_and_frees_up(server):
    with ExitStack() as stack:
        for n in range(TOTAL):
            connection = stack.enter_context(_connect(server, f"127.0.0.{10 + n % 3}"))
            connection.sendall(b"GET /health HTTP/1.1\r\n")
        status, _, body = _answer(stack.enter_context(_connect(server, "127.0.0.20")))
        assert status == 503 and body["detail"]["status"] == "service_unavailable"
    time.sleep(0.3)
    assert _health(server) == 200


def test_open_websockets_count_until_they_close(server):
    def socket_from(source: str) -> ClientConnection:
        url = ws_url(server.url, "stream-input", model_id="eleven_flash_v2_5")
        return connect(url, sock=_connect(server, source), additional_headers=server.headers)

    with ExitStack() as stack:
        for _ in range(PER_CLIENT):
            stack.enter_context(socket_from("127.0.0.5"))
        with pytest.raises(InvalidStatus) as refused:
            socket_from("127.0.0.5")
        assert refused.value.response.status_code == 429
    time.sleep(0.3)
    with socket_from("127.0.0.5"):  # the upgraded connections gave their places back as they closed
        pass


def test_a_tls_hello_over_the_cap_is_closed_at_once(server):
    with ExitStack() as stack:
        for _ in range(PER_CLIENT):
            stack.enter_context(_connect(server, "127.0.0.4")).sendall(b"GET / HTTP/1.1\r\n")
        extra = stack.enter_context(_connect(server, "127.0.0.4"))
        context = ssl.create_default_context()
        with pytest.raises((ssl.SSLError, OSError)):
            context.wrap_socket(extra, server_hostname="localhost")


def test_tls_on_a_plain_only_server_is_logged_with_the_fix(tmp_path):
    with serving(tmp_path, "--no-tls", env={"INTONE_WARM_UP": "false"}) as running:
        assert "SSL_CERT_FILE" not in running.log_text()
        with pytest.raises(httpx.ConnectError):
            httpx.get(running.url.replace("http://", "https://") + "/health", verify=False)
        assert _health(running) == 200
        deadline = time.monotonic() + 5
        while "TLS connection" not in running.log_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        log = running.log_text()
    assert "speaks plain HTTP only" in log and "--no-tls" in log, log

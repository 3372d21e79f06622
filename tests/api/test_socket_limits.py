"""What one client can hold on the realtime sockets: open sockets per key (across replicas) and per
server, text waiting per socket and against the key's quota, and no synthesis place while a client
does not take its audio (sockets and HTTP streams), against real servers.

A client that reads slower than the audio is made is, for the server, one that does not read for a
while: the non-reading clients below read everything at the end, and get all of it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.api.server import Server, create_key, serving
from tests.api.ws import (
    BRIAN,
    Message,
    audio_messages,
    drain,
    errors,
    receive,
    receive_until,
    run,
    same_text,
    send,
    spoken,
    ws_url,
)
from tests.shared_services import postgres_database, redis_url

pytestmark = pytest.mark.slow

PER_KEY = 2
PER_SERVER = 3
SOCKET_TEXT = 1500  # above LONG_TEXT
QUEUE_TIMEOUT = 10
FLASH = "eleven_flash_v2_5"
LIMITS = {
    "INTONE_WARM_UP": "false",
    "INTONE_MAX_SOCKETS_PER_KEY": str(PER_KEY),
    "INTONE_MAX_SOCKETS": str(PER_SERVER),
    "INTONE_MAX_SOCKET_TEXT": str(SOCKET_TEXT),
    # One synthesis at a time on the whole server: a stream that keeps its place shuts out everyone.
    "INTONE_MAX_CONCURRENT_REQUESTS": "1",
    "INTONE_QUEUE_TIMEOUT": str(QUEUE_TIMEOUT),
}
BIG_SCHEDULE = {"chunk_length_schedule": [500]}
# About a minute of speech: more audio than the loopback buffers of a client that reads nothing hold. No
# sentence ends: with auto_mode a socket speaks it as one segment when flushed, so it cannot give its
# place back between segments (as it does, and did, after each one).
LONG_TEXT = "The quick brown fox jumps over the lazy dog, and then it runs far away into the woods, " * 10
SMALL_BUFFER = 16_384  # the non-reading client's receive buffer (the kernel's own autotuning goes to MBs)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("intone-socket-limits"), env=LIMITS) as running:
        yield running


@pytest.fixture(scope="module")
def replicas(tmp_path_factory) -> Iterator[tuple[Server, Server]]:
    with postgres_database() as database:
        env = LIMITS | {"INTONE_DATABASE_URL": database, "INTONE_REDIS_URL": redis_url()}
        with (
            serving(tmp_path_factory.mktemp("sockets-replica-a"), env=env) as first,
            serving(tmp_path_factory.mktemp("sockets-replica-b"), env=env) as second,
        ):
            yield first, second


def _open(server: Server, key: str, **query: str | int | bool) -> connect:
    return connect(
        ws_url(server.url, "stream-input", model_id=FLASH, output_format="pcm_16000", **query),
        open_timeout=10,
        close_timeout=5,
        additional_headers={"xi-api-key": key},
    )


async def _refusals(sockets: list[ClientConnection]) -> tuple[list[str], list[ClientConnection]]:
    """The error codes of the sockets refused among `sockets`, and the sockets still open after a
    moment. A refused socket gets one error message at once, then close 1008 with a reason."""
    messages = await asyncio.gather(*(receive(ws, 1.5) for ws in sockets))
    refused = [(ws, message) for ws, message in zip(sockets, messages, strict=True) if message is not None]
    for ws, message in refused:
        assert message["code"] == 1008 and message["message"], message
        assert await drain(ws, 5) == []
        assert ws.close_code == 1008 and ws.close_reason
    still_open = [ws for ws, message in zip(sockets, messages, strict=True) if message is None]
    return [message["error"] for _, message in refused], still_open


async def _speaks(ws: ClientConnection) -> bool:
    assert await send(ws, {"text": " "}, {"text": "Hi there. "}, {"text": ""})
    return same_text(spoken(await drain(ws)), "Hi there.")


def test_sockets_are_capped_per_key_and_per_server(server: Server) -> None:
    key, other = create_key(server.env, "many"), create_key(server.env, "other")

    async def talk() -> None:
        async with contextlib.AsyncExitStack() as stack:
            mine = [await stack.enter_async_context(_open(server, key)) for _ in range(PER_KEY + 1)]
            refused, open_ones = await _refusals(mine)
            assert refused == ["too_many_open_sockets"]  # the key holds PER_KEY
            theirs = [await stack.enter_async_context(_open(server, other)) for _ in range(2)]
            assert (await _refusals(theirs))[0] == ["system_busy"]  # the server holds PER_SERVER
            await open_ones[0].close()
            async with _open(server, key) as again:  # the closed socket's places came back
                assert await _speaks(again)

    run(talk())


def test_a_keys_socket_cap_holds_across_replicas(replicas: tuple[Server, Server]) -> None:
    first, second = replicas
    key = create_key(first.env, "spread")

    async def talk() -> None:
        async with contextlib.AsyncExitStack() as stack:
            sockets = [
                await stack.enter_async_context(_open(server, key)) for server in (first, second, first)
            ]
            refused, open_ones = await _refusals(sockets)
            assert refused == ["too_many_open_sockets"]
            await open_ones[0].close()
            async with _open(second, key) as again:
                assert await _speaks(again)

    run(talk())


def test_text_waiting_past_the_cap_is_refused(server: Server) -> None:
    key = create_key(server.env, "pusher")
    words = "word " * 140  # 700 characters

    async def talk() -> list[Message]:
        async with _open(server, key) as ws:
            # Segments of 500 characters are made and synthesized one after another, and count until
            # spoken: the third message takes the socket past SOCKET_TEXT.
            await send(ws, {"text": " ", "generation_config": BIG_SCHEDULE}, *[{"text": words}] * 2)
            await send(ws, {"text": "x" * 200})
            return await drain(ws, 10)

    failures = errors(run(talk()))
    assert [m["error"] for m in failures] == ["text_backlog_exceeded"], failures
    assert str(SOCKET_TEXT) in failures[0]["message"]


def _used(server: Server, key: str) -> int:
    response = httpx.get(f"{server.url}/v1/user/subscription", headers={"xi-api-key": key})
    return response.json()["character_count"]


def test_text_over_the_quota_is_refused_as_it_arrives(server: Server) -> None:
    key = create_key(server.env, "metered", "--character-limit", "100")  # 200 characters on flash

    async def talk() -> list[Message]:
        async with _open(server, key) as ws:
            await send(ws, {"text": " "}, {"text": "Nothing of this is spoken. " * 12})  # 324 characters
            return await drain(ws, 10)

    messages = run(talk())
    assert audio_messages(messages) == []  # refused before any segment was made
    assert [m["error"] for m in errors(messages)] == ["quota_exceeded"]
    assert _used(server, key) == 0


def test_text_past_what_is_charged_and_left_is_refused_at_once(server: Server) -> None:
    key = create_key(server.env, "metered-2", "--character-limit", "50")  # 100 characters on flash
    first = "Eighty characters of speech go first, and they are charged in full for sure. "

    async def talk() -> tuple[list[Message], list[Message]]:
        async with _open(server, key) as ws:
            await send(ws, {"text": " "}, {"text": first, "flush": True})
            spoken_first = await receive_until(ws, lambda got: same_text(spoken(got), first))
            await send(ws, {"text": "Thirty more characters wait. "})  # below the schedule: it waits
            return spoken_first, await drain(ws, 10)

    spoken_first, rest = run(talk())
    assert errors(spoken_first) == []
    assert [m["error"] for m in errors(rest)] == ["quota_exceeded"]
    assert _used(server, key) == 39  # what the first text cost: 77 characters at half a credit


def _small_buffer_socket(server: Server) -> socket.socket:
    """A connected socket whose receive buffer holds little: a client that does not read blocks the
    server's sends after a few MB (the server's send buffer), not after tens."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
    host, port = server.url.removeprefix("http://").split(":")
    sock.connect((host, int(port)))
    return sock


def _bystander(server: Server) -> httpx.Response:
    """Another key's short request, while the server's only synthesis place may be taken."""
    return httpx.post(
        f"{server.url}/v1/text-to-speech/{BRIAN}",
        headers={"xi-api-key": create_key(server.env, f"bystander-{time.monotonic_ns()}")},
        params={"output_format": "pcm_16000"},
        json={"text": "Hi.", "model_id": FLASH, "language_code": "en"},
        timeout=60,
    )


def _admitted_in_time(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text  # not 429 system_busy
    queued_ms = float(response.headers["server-timing"].split("dur=")[1])
    assert queued_ms < QUEUE_TIMEOUT * 1000 / 2


def test_a_socket_that_does_not_read_holds_no_place_and_gets_all_its_audio_later(server: Server) -> None:
    key = create_key(server.env, "no-reader")
    url = ws_url(server.url, "stream-input", model_id=FLASH, output_format="pcm_48000", auto_mode=True)

    async def talk() -> tuple[httpx.Response, list[Message]]:
        sock = _small_buffer_socket(server)
        async with connect(
            url, sock=sock, max_queue=1, close_timeout=5, additional_headers={"xi-api-key": key}
        ) as ws:
            await send(ws, {"text": " "}, {"text": LONG_TEXT, "flush": True})
            await asyncio.sleep(4)  # the server fills the buffers, then waits on its sends
            response = await asyncio.to_thread(_bystander, server)
            await send(ws, {"text": ""})
            return response, await drain(ws, 60)  # now the client reads

    response, messages = run(talk(), timeout=90)
    _admitted_in_time(response)
    assert errors(messages) == []
    assert same_text(spoken(messages), LONG_TEXT)  # the stream took a place again and went on


def test_an_http_stream_that_is_not_read_holds_no_place(server: Server) -> None:
    key = create_key(server.env, "http-no-reader")
    options = [(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)]
    transport = httpx.HTTPTransport(socket_options=options)
    with (
        httpx.Client(base_url=server.url, transport=transport, timeout=60) as client,
        client.stream(
            "POST",
            f"/v1/text-to-speech/{BRIAN}/stream/with-timestamps",
            headers={"xi-api-key": key},
            params={"output_format": "pcm_48000"},
            json={"text": LONG_TEXT, "model_id": FLASH, "language_code": "en"},
        ) as stream,
    ):
        assert stream.status_code == 200
        time.sleep(4)  # the server fills the buffers, then waits on its sends
        _admitted_in_time(_bystander(server))
        lines: list[dict[str, Any]] = [json.loads(line) for line in stream.iter_lines() if line]
    covered = "".join("".join(line["alignment"]["characters"]) for line in lines if line["alignment"])
    assert same_text(covered, LONG_TEXT)

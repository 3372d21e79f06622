"""A real `intone serve` process on a free loopback port, for tests that talk to it like a client."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
INTONE = Path(sys.executable).parent / "intone"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    api_key: str  # an enterprise-tier key with every scope but admin
    env: dict[str, str]  # the server's environment: `create_key(server.env, ...)` reaches its database

    @property
    def headers(self) -> dict[str, str]:
        return {"xi-api-key": self.api_key}

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start(data_dir: Path, *args: str, env: dict[str, str] | None = None, scheme: str = "http") -> Server:
    """Starts a server and waits until /ready says its engines are loaded."""
    port = free_port()
    log = data_dir / f"server-{port}.log"
    full_env = {**os.environ, "INTONE_DATA_DIR": str(data_dir), **(env or {})}
    api_key = create_key(full_env, "tests", tier="enterprise")
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(INTONE), "serve", "--port", str(port), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
        )
    server = Server(process, f"{scheme}://127.0.0.1:{port}", log, api_key, full_env)
    try:
        wait_ready(server, ca=data_dir / "tls" / "ca.pem" if scheme == "https" else None)
    except BaseException:
        server.stop()
        raise
    return server


@contextmanager
def serving(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, scheme: str = "http"
) -> Iterator[Server]:
    """`start`, then a graceful stop however the block ends."""
    server = start(data_dir, *args, env=env, scheme=scheme)
    try:
        yield server
    finally:
        server.stop()


def create_key(env: dict[str, str], name: str, *options: str, tier: str = "pro") -> str:
    """A new key in the database `env` points the server at, made with `intone keys create`."""
    done = subprocess.run(
        [str(INTONE), "keys", "create", "--name", name, "--tier", tier, *options],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def wait_ready(server: Server, ca: Path | None = None, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.log_text()}")
        try:
            verify = ssl.create_default_context(cafile=ca) if ca else True
            if httpx.get(f"{server.url}/ready", timeout=2, verify=verify).status_code == 200:
                return
        except (httpx.TransportError, FileNotFoundError):  # FileNotFoundError: the CA is not written yet
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not ready after {timeout} s:\n{server.log_text()}")

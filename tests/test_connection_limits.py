"""The connection table, the client groups it counts by, the file limit and the answers to refusals."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import pytest

from intone.serving.answer import response
from intone.serving.files import RESERVED, connections_that_fit
from intone.serving.limits import REFUSALS, ConnectionTable, client_group


@pytest.mark.parametrize(
    ("host", "group"),
    [
        ("10.0.0.5", "10.0.0.5"),
        ("::ffff:10.0.0.5", "10.0.0.5"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        (None, ""),
        ("/run/intone.sock", "/run/intone.sock"),
    ],
)
def test_client_groups(host, group):
    assert client_group(host) == group


def test_per_client_then_server_caps_with_a_refusal_budget():
    table = ConnectionTable(total=3, per_client=2, refusals=1)
    a1, a2 = table.admit("10.0.0.1"), table.admit("10.0.0.1")
    assert a1 and a2 and a1.refusal is None and a2.refusal is None
    over = table.admit("10.0.0.1")
    assert over is not None and over.refusal is not None and over.refusal.http_status == 429
    assert table.admit("10.0.0.1") is None  # the refusal budget is spent: closed unanswered
    over.release()
    b1 = table.admit("10.0.0.2")
    assert b1 is not None and b1.refusal is None
    full = table.admit("10.0.0.3")
    assert full is not None and full.refusal is not None and full.refusal.http_status == 503
    full.release()
    a1.release()
    a1.release()  # twice: counted once
    assert table.open == 2 and table.by_client == {"10.0.0.1": 1, "10.0.0.2": 1}
    again = table.admit("10.0.0.3")
    assert again is not None and again.refusal is None


def test_the_refusal_is_in_the_api_error_shape():
    table = ConnectionTable(total=1, per_client=1)
    table.admit("10.0.0.1")
    lease = table.admit("10.0.0.1")
    assert lease is not None and lease.refusal is not None
    head, body = response(lease.refusal).split(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 429 Too Many Requests\r\n")
    assert b"connection: close" in head and b"retry-after: 1" in head
    assert json.loads(body)["detail"]["status"] == "too_many_connections"


def test_connections_fit_below_the_file_limit():
    assert connections_that_fit(1024) == 1024 - RESERVED - REFUSALS
    assert connections_that_fit(100) == 1


def test_the_soft_file_limit_is_raised_to_the_hard_one():
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard <= 512:
        pytest.skip(f"the hard limit ({hard}) leaves nothing to raise from 512")
    script = (
        "import resource\n"
        "from intone.serving.files import raise_file_limit\n"
        "print(raise_file_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard)),
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == [str(hard), str(hard)]

"""GET /metrics: who may read it, the workers' numbers added up, and a dashboard that names real metrics."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.parser import text_string_to_metric_families

from intone import cli, metrics
from intone.accounts.scopes import DEFAULT_SCOPES, Scope
from intone.admission.admission import Overloaded
from intone.api.errors import too_busy
from intone.app import create_app
from intone.config import Settings

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = ("127.0.0.1", 50000)
ELSEWHERE = ("203.0.113.5", 50000)
TOKEN = "metrics-token-for-tests"


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """One app per INTONE_METRICS mode, without engines (metrics need none)."""
    made = {}
    for mode in ("local", "open", "off"):
        settings = Settings(
            data_dir=tmp_path_factory.mktemp(f"metrics-{mode}"),
            warm_up=False,
            metrics=mode,
            metrics_token=TOKEN,
        )
        made[mode] = create_app(settings)
    yield made


def _get(app, client: tuple[str, int], **headers: str):
    with TestClient(app, client=client) as http:
        return http.get("/metrics", headers=headers)


def test_this_machine_reads_the_metrics_freely(apps):
    reply = _get(apps["local"], LOOPBACK)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    assert "intone_http_requests_total" in {family.name + "_total" for family in _families(reply.text)}


@pytest.mark.parametrize(
    "client, headers",
    [
        (ELSEWHERE, {}),
        (ELSEWHERE, {"Authorization": "Bearer wrong"}),
        (LOOPBACK, {"X-Forwarded-For": "198.51.100.7"}),  # a proxy on this machine, passing a client on
        (LOOPBACK, {"Forwarded": "for=198.51.100.7"}),
    ],
)
def test_another_machine_needs_a_token_or_key(apps, client, headers):
    reply = _get(apps["local"], client, **headers)
    assert reply.status_code == 401
    assert reply.json()["detail"]["status"] == "unauthorized"


def test_the_token_and_an_admin_key_are_let_in(apps):
    app = apps["local"]
    assert _get(app, ELSEWHERE, Authorization=f"Bearer {TOKEN}").status_code == 200
    with TestClient(app, client=ELSEWHERE) as http:
        keys = app.state.services.store.keys
        _, admin = keys.create("ops", frozenset({Scope.ADMIN}), None, "pro")
        _, plain = keys.create("app", DEFAULT_SCOPES, None, "pro")
        assert http.get("/metrics", headers={"xi-api-key": admin}).status_code == 200
        refused = http.get("/metrics", headers={"xi-api-key": plain})
        assert refused.status_code == 403
        assert refused.json()["detail"]["status"] == "missing_permissions"
        assert http.get("/metrics", headers={"xi-api-key": "sk_unknown"}).status_code == 401


def test_open_serves_anyone_and_off_no_one(apps):
    assert _get(apps["open"], ELSEWHERE).status_code == 200
    for client in (LOOPBACK, ELSEWHERE):
        reply = _get(apps["off"], client)
        assert reply.status_code == 404
        assert reply.json()["detail"]["status"] == "not_found"


def test_requests_are_counted_by_route_template_not_path(apps):
    with TestClient(apps["open"], client=LOOPBACK) as http:
        for voice in ("a", "b"):
            assert http.get(f"/v1/voices/{voice}/settings").status_code == 401
        assert http.get("/no/such/route").status_code == 404
        text = http.get("/metrics").text
    routes = {
        sample.labels["route"]
        for family in _families(text)
        for sample in family.samples
        if sample.name == "intone_http_requests_total"
    }
    assert "/v1/voices/{voice_id}/settings" in routes
    assert metrics.UNMATCHED in routes
    assert not any("/a/" in route or "/b/" in route or route.startswith("/no/") for route in routes)


# Two worker processes record; a third reads what both did, as a scrape of any worker would.
_WORKER = """
from intone import cli, metrics
metrics.refused("system_busy")
metrics.engine_ran(0.5, ("piper", 2.0))
metrics.socket_opened()
"""
_READER = """
from intone import metrics
print(metrics.exposition().decode())
print("# forgotten")
metrics.forget_dead_workers()
print(metrics.exposition().decode())
"""


def test_worker_processes_add_up(tmp_path):
    env = {**os.environ, metrics.MULTIPROCESS_VARIABLE: str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", _WORKER], env=env, check=True)
    reader = [sys.executable, "-c", _READER]
    done = subprocess.run(reader, env=env, check=True, capture_output=True, text=True)
    before, after = (_by_series(text) for text in done.stdout.split("# forgotten"))
    assert before[("intone_too_many_requests_total", (("reason", "system_busy"),))] == 2
    assert before[("intone_engine_seconds_total", (("engine", "piper"),))] == 1.0
    assert before[("intone_engine_audio_seconds_total", (("engine", "piper"),))] == 4.0
    assert before[("intone_engine_real_time_factor_count", (("engine", "piper"),))] == 2
    assert before[("intone_open_sockets", ())] == 2
    # Both workers have exited: once a new one starts, their open sockets no longer count; their counts do.
    assert after.get(("intone_open_sockets", ()), 0) == 0
    assert after[("intone_too_many_requests_total", (("reason", "system_busy"),))] == 2


def _by_series(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in _families(text)
        for sample in family.samples
    }


def test_serve_with_workers_gives_them_an_empty_directory_before_they_start(tmp_path, monkeypatch):
    stale = tmp_path / "metrics" / "8123" / "counter_123.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    environ = {**os.environ, "INTONE_DATA_DIR": str(tmp_path)}
    monkeypatch.setattr(os, "environ", environ)  # what `intone serve` exports stays in this test
    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(dict(environ)))
    assert cli.main(["serve", "--workers", "2", "--port", "8123", "--no-tls"]) == 0
    [seen] = started
    assert seen[metrics.MULTIPROCESS_VARIABLE] == str(stale.parent)
    assert not any(stale.parent.iterdir())


def test_the_dashboard_names_only_real_metrics():
    dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    named = {name for expr in exprs for name in re.findall(r"\bintone_\w+", expr)}
    exposed = {
        sample.name
        for family in _families(metrics.exposition().decode())
        for sample in family.samples
        if sample.name.startswith("intone_")
    }
    # Labelled metrics show no series until they are used: their names come from the families instead.
    families = _families_recorded()
    series = {name for family in families for name in _series(family)}
    assert named
    assert named <= exposed | series, named - exposed - series
    missing = {family.name for family in families if not set(_series(family)) & named}
    assert not missing, f"metrics without a panel: {missing}"


def _families(text: str):
    return list(text_string_to_metric_families(text))


def _families_recorded():
    """The families of every metric `intone.metrics` records."""
    return [
        family
        for value in vars(metrics).values()
        if isinstance(value, Counter | Gauge | Histogram)
        for family in value.describe()
    ]


def _series(family) -> list[str]:
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""]}
    return [family.name + suffix for suffix in suffixes[family.type]]


def test_a_429_from_admission_is_counted_by_its_reason():
    def count() -> float:
        return REGISTRY.get_sample_value("intone_too_many_requests_total", {"reason": "system_busy"}) or 0.0

    before = count()
    error = too_busy(Overloaded("system_busy", "The server is busy.", 3))
    assert (error.http_status, error.status, error.headers) == (429, "system_busy", {"Retry-After": "3"})
    assert count() == before + 1

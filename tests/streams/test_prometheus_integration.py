"""Debian's Prometheus server scrapes a running ``homerec worker`` and a homerec
metric is read back through Prometheus's HTTP query API.

Also checked against the live server: the alert rules load and evaluate, and every
query of the Grafana dashboard parses and runs. Skipped only where the
``prometheus`` binary is missing and ``CI`` is unset; in CI it must run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.config import Settings
from tests.deploy.test_grafana import dashboard_exprs

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy/prometheus/rules/homerec.rules.yml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback
            return int(resp.status), resp.read().decode()
    except urllib.error.HTTPError as err:
        return int(err.code), err.read().decode()


def _wait(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if predicate():
                return
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(0.5)


def _homerec(*args: str) -> list[str]:
    return [sys.executable, "-m", "streams.cli", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


@pytest.fixture
def prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("the prometheus binary is missing in CI: apt-get install -y prometheus")
        pytest.skip("Debian's prometheus is not installed (apt-get install -y prometheus)")
    return path


@pytest.fixture
def running_worker(settings: Settings, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """``homerec worker`` as a real process with its metrics port; SIGTERM at the end."""
    port = _free_port()
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        proc = subprocess.Popen(  # noqa: S603
            _homerec(
                "worker", "--bootstrap", settings.bootstrap,
                "--topic-prefix", settings.topic_prefix, "--model", "popularity",
                "--metrics-port", str(port), "--log-format", "json",
            ),
            cwd=REPO, env=_env(), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait(lambda: _get(f"http://127.0.0.1:{port}/healthz")[0] == 200, 60, "worker /healthz")
        yield port, log
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.fixture
def prometheus(
    prometheus_binary: str, running_worker: tuple[int, Path], tmp_path: Path
) -> Iterator[str]:
    """Prometheus on a free port scraping the worker every second, with our rules."""
    worker_port, _ = running_worker
    port = _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  evaluation_interval: 1s\n"
        "rule_files:\n"
        f"  - {RULES}\n"
        "scrape_configs:\n"
        "  - job_name: homerec-worker\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{worker_port}']\n"
    )
    log = tmp_path / "prometheus.log"
    with log.open("w") as out:
        proc = subprocess.Popen(  # noqa: S603
            [
                prometheus_binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _get(f"{url}/-/ready")[0] == 200, 60, "Prometheus /-/ready")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _query(url: str, expr: str) -> dict[str, Any]:
    status, body = _get(f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    doc: dict[str, Any] = json.loads(body)
    assert status == 200 and doc["status"] == "success", f"{expr}: {body}"
    return doc


def _value(url: str, expr: str) -> float | None:
    result = _query(url, expr)["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_prometheus_reads_a_live_homerec_metric(
    settings: Settings, running_worker: tuple[int, Path], prometheus: str
) -> None:
    worker_port, worker_log = running_worker
    sent = subprocess.run(  # noqa: S603
        _homerec(
            "replay", "--source", "synthetic", "--users", "40", "--items", "50",
            "--events", "400", "--bootstrap", settings.bootstrap,
            "--topic-prefix", settings.topic_prefix, "--quiet",
        ),
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr

    # the worker is scraped and healthy
    _wait(lambda: _value(prometheus, 'up{job="homerec-worker"}') == 1, 60, "up == 1")
    # the homerec metric, through Prometheus's query API
    expr = 'sum(homerec_events_consumed_total{job="homerec-worker"})'
    _wait(
        lambda: (_value(prometheus, expr) or 0) >= 400,
        180,
        f"{expr} >= 400 (worker log: {worker_log})",
    )
    assert (_value(prometheus, "sum(homerec_recs_published_total)") or 0) > 0
    assert _value(prometheus, "sum(homerec_consumer_assigned_partitions)") == 4

    # readiness on the live worker: partitions assigned and caught up
    _wait(lambda: _get(f"http://127.0.0.1:{worker_port}/readyz")[0] == 200, 30, "worker /readyz")
    ready = json.loads(_get(f"http://127.0.0.1:{worker_port}/readyz")[1])
    assert ready["assigned_partitions"] == 4 and ready["lag"] == 0


def test_rules_load_and_dashboard_queries_run_on_the_live_server(prometheus: str) -> None:
    _wait(lambda: _value(prometheus, 'up{job="homerec-worker"}') == 1, 60, "up == 1")
    status, body = _get(f"{prometheus}/api/v1/rules")
    groups = json.loads(body)["data"]["groups"]
    assert {g["name"] for g in groups} == {"homerec.recording", "homerec.alerts"}
    _wait(
        lambda: all(
            r["health"] == "ok"
            for g in json.loads(_get(f"{prometheus}/api/v1/rules")[1])["data"]["groups"]
            for r in g["rules"]
        ),
        30,
        "every rule evaluated without error",
    )
    for expr in dashboard_exprs():
        _query(prometheus, expr)  # asserts that the server parses and runs it
    # no alert fires against a healthy worker
    alerts = json.loads(_get(f"{prometheus}/api/v1/alerts")[1])["data"]["alerts"]
    assert not [a for a in alerts if a["state"] == "firing"], alerts

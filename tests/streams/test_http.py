from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from homerec.errors import ConfigError
from streams import metrics
from streams.http import Health, MetricsServer, serve


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read().decode()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def health(clock: FakeClock) -> Health:
    return Health(liveness_timeout_s=10, ready_max_lag=100, clock=clock)


@pytest.fixture
def server(health: Health) -> Iterator[MetricsServer]:
    srv = serve(0, health, host="127.0.0.1")
    yield srv
    srv.close()


def test_liveness_follows_the_loop_beat(health: Health, clock: FakeClock) -> None:
    assert health.live() == (True, "ok")  # start-up counts as a beat
    clock.now += 11
    alive, reason = health.live()
    assert not alive and "no loop beat" in reason
    health.beat()
    assert health.live()[0]


def test_readiness_needs_partitions_bounded_lag_and_not_stopping(
    health: Health, clock: FakeClock
) -> None:
    assert health.ready() == (False, "no partitions assigned")
    health.set_assigned(3)
    assert health.ready() == (False, "lag not measured yet")
    health.set_lag(101)
    assert health.ready() == (False, "lag 101 > 100")
    health.set_lag(100)
    assert health.ready() == (True, "ready")
    clock.now += 30  # a wedged loop is not ready either
    assert not health.ready()[0]
    health.beat()
    health.set_stopping()
    assert health.ready() == (False, "stopping")


def test_revoked_partitions_make_it_unready(health: Health) -> None:
    health.set_assigned(1)
    health.set_lag(0)
    assert health.ready()[0]
    health.set_assigned(0)
    assert health.ready() == (False, "no partitions assigned")


@pytest.mark.parametrize("kwargs", [{"liveness_timeout_s": 0}, {"ready_max_lag": -1}])
def test_bad_settings_are_config_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        Health(**kwargs)  # type: ignore[arg-type]


def test_metrics_endpoint_serves_the_default_registry(server: MetricsServer) -> None:
    metrics.RECS_PUBLISHED.inc()
    status, ctype, body = get(f"{server.url}/metrics")
    assert status == 200
    assert ctype.startswith("text/plain")
    assert "homerec_recs_published_total" in body
    assert "# TYPE homerec_consumer_lag gauge" in body


def test_metrics_endpoint_speaks_openmetrics_when_asked(server: MetricsServer) -> None:
    req = urllib.request.Request(
        f"{server.url}/metrics", headers={"Accept": "application/openmetrics-text"}
    )
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
        assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
        assert resp.read().decode().rstrip().endswith("# EOF")


def test_health_endpoints(server: MetricsServer, health: Health, clock: FakeClock) -> None:
    assert get(f"{server.url}/healthz")[:1] == (200,)
    status, ctype, body = get(f"{server.url}/readyz")
    assert status == 503 and ctype == "application/json"
    assert json.loads(body)["reason"] == "no partitions assigned"

    health.set_assigned(2)
    health.set_lag(7)
    status, _, body = get(f"{server.url}/readyz")
    doc = json.loads(body)
    assert status == 200
    assert doc["ready"] is True and doc["assigned_partitions"] == 2 and doc["lag"] == 7

    clock.now += 60
    status, _, body = get(f"{server.url}/healthz")
    assert status == 503 and "no loop beat" in body
    assert get(f"{server.url}/nope")[0] == 404


def test_close_releases_the_port(health: Health) -> None:
    srv = serve(0, health, host="127.0.0.1")
    port = srv.port
    assert port > 0
    srv.close()
    srv.close()  # idempotent
    again = serve(port, health, host="127.0.0.1")
    again.close()


def test_port_in_use_is_a_config_error(server: MetricsServer, health: Health) -> None:
    with pytest.raises(ConfigError, match="cannot listen"):
        serve(server.port, health, host="127.0.0.1")

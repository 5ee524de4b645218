"""deploy/grafana: the dashboard references only metrics that exist and is provisioned."""

from __future__ import annotations

import json
from typing import Any

import yaml

from tests.deploy.catalog import ROOT, exposed_names, names_in, recording_rules

GRAFANA = ROOT / "deploy/grafana"
DASHBOARD = GRAFANA / "dashboards/homerec.json"


def _dashboard() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return doc


def _panels() -> list[dict[str, Any]]:
    out = []
    for panel in _dashboard()["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def dashboard_exprs() -> list[str]:
    """Every PromQL expression of the dashboard (also used by the Prometheus
    integration test, which has a live server parse them)."""
    return [t["expr"] for p in _panels() for t in p.get("targets", [])]


def test_dashboard_references_only_existing_metrics() -> None:
    known = exposed_names() | recording_rules()
    used: set[str] = set()
    for expr in dashboard_exprs():
        names = names_in(expr)
        if not names:  # Prometheus's own health series of the worker targets
            assert 'up{job="homerec-worker"}' in expr, f"query uses no homerec metric: {expr}"
        assert not (names - known), f"unknown metrics {names - known} in {expr}"
        used |= names
    # throughput, lag, freshness, quality, DLQ are all charted
    for needed in (
        "homerec_events_consumed_total",
        "homerec_consumer_lag",
        "homerec_freshness_seconds_bucket",
        "homerec_quality_hit_rate",
        "homerec_dlq_messages_total",
    ):
        assert needed in used


def test_dashboard_is_well_formed() -> None:
    dash = _dashboard()
    assert dash["uid"] and dash["title"] and dash["schemaVersion"] >= 30
    ids = [p["id"] for p in _panels()]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    rows = {p["title"] for p in _panels() if p["type"] == "row"}
    assert {"Throughput", "Lag", "Freshness", "Quality", "Dead-letter queue"} <= rows
    for panel in _panels():
        pos = panel["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, panel["title"]
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "prometheus"
            assert "$__" not in target["expr"], "keep queries plain PromQL (tested live)"


def test_provisioning_points_at_the_dashboard_and_prometheus() -> None:
    ds = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    (source,) = ds["datasources"]
    assert source["uid"] == "prometheus" and source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"  # the compose service
    prov = yaml.safe_load((GRAFANA / "provisioning/dashboards/homerec.yml").read_text())
    (provider,) = prov["providers"]
    assert provider["type"] == "file"
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in mounts
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts

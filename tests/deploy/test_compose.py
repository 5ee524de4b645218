"""docker-compose.yml: valid against the compose specification's JSON schema, and
coherent: services it references exist, files it mounts exist, the homerec
commands it runs are accepted by the CLI, Prometheus scrapes the workers' port."""

from __future__ import annotations

import argparse
import importlib
import json
import re
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.catalog import ROOT

COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = ROOT / "tests/deploy/compose_spec.json"
HOMEREC_SERVICES = ("topics", "worker", "producer")
# Go durations as compose accepts them: 1m30s, 500ms, 10s
DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return doc


def test_valid_against_the_compose_spec_schema(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
    )


def test_the_schema_catches_mistakes(compose: dict[str, Any]) -> None:
    """The schema really is strict: a misspelt key or a wrong type fails."""
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    broken = json.loads(json.dumps(compose))
    broken["services"]["worker"]["comand"] = ["worker"]
    assert not validator.is_valid(broken)
    broken = json.loads(json.dumps(compose))
    broken["services"]["worker"]["depends_on"]["kafka"]["condition"] = "service_ready"
    assert not validator.is_valid(broken)


def test_the_stack_has_every_part(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) >= {"kafka", "topics", "worker", "producer", "prometheus", "grafana"}
    assert services["kafka"]["image"].startswith("apache/kafka:")
    kafka_env = services["kafka"]["environment"]
    assert kafka_env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, one node
    for name in HOMEREC_SERVICES:
        build = services[name]["build"]
        assert (ROOT / build["context"] / build["dockerfile"]).is_file()
        assert services[name]["environment"]["HOMEREC_BOOTSTRAP"] == "kafka:9092"
    assert services["topics"]["command"][:2] == ["topics", "create"]
    assert services["producer"]["command"][:3] == ["replay", "--source", "synthetic"]


def test_dependencies_exist_and_order_the_start(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, svc in services.items():
        deps = svc.get("depends_on", {})
        for dep in deps:
            assert dep in services, f"{name} depends on unknown service {dep}"
    assert services["worker"]["depends_on"]["topics"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["worker"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert "healthcheck" in services["kafka"]


def test_durations_are_compose_durations(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        check = svc.get("healthcheck", {})
        for key in ("interval", "timeout", "start_period"):
            if key in check:
                assert DURATION.match(check[key]), f"{name}.healthcheck.{key}={check[key]!r}"
        if "stop_grace_period" in svc:
            assert DURATION.match(svc["stop_grace_period"])


def test_bind_mounts_exist(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="homerec", exit_on_error=False)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("topics", "worker", "replay"):
        importlib.import_module(f"streams.commands.{name}").register(sub)
    return parser


@pytest.mark.parametrize("service", HOMEREC_SERVICES)
def test_homerec_commands_are_accepted_by_the_cli(compose: dict[str, Any], service: str) -> None:
    command = compose["services"][service]["command"]
    args = _parser().parse_args(command)
    assert args.command == command[0]


def test_prometheus_scrapes_the_workers_metrics_port(compose: dict[str, Any]) -> None:
    services = compose["services"]
    args = _parser().parse_args(services["worker"]["command"])
    assert args.metrics_port == 9400
    assert str(args.metrics_port) in services["worker"]["expose"]
    assert "9400/healthz" in " ".join(services["worker"]["healthcheck"]["test"])
    prom_cfg = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    (job,) = [j for j in prom_cfg["scrape_configs"] if j["job_name"] == "homerec-worker"]
    (sd,) = job["dns_sd_configs"]
    assert sd["names"] == ["worker"] and sd["port"] == args.metrics_port
    assert "./deploy/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]


def test_graceful_stop(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert worker["stop_signal"] == "SIGTERM"
    assert DURATION.match(worker["stop_grace_period"])

"""deploy/prometheus: rules use only real metrics, every alert has a firing unit test,
and promtool (Debian's `prometheus` package) accepts config, rules and rule tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.deploy.catalog import ROOT, exposed_names, names_in, recording_rules

PROM = ROOT / "deploy/prometheus"
RULES = PROM / "rules/homerec.rules.yml"
TESTS = PROM / "tests/homerec.rules.test.yml"


def _rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _alerts() -> list[dict[str, Any]]:
    return [r for r in _rules() if "alert" in r]


def test_the_issue_s_alerts_exist() -> None:
    names = {a["alert"] for a in _alerts()}
    # lag growing, freshness p99 too high, DLQ rate, worker down, online quality dropping
    assert {
        "HomerecConsumerLagGrowing",
        "HomerecFreshnessP99High",
        "HomerecDLQRateHigh",
        "HomerecWorkerDown",
        "HomerecOnlineQualityDropping",
    } <= names


def test_rules_use_only_exposed_metrics_and_defined_recordings() -> None:
    known = exposed_names() | recording_rules()
    for rule in _rules():
        unknown = names_in(rule["expr"]) - known
        assert not unknown, f"{rule.get('alert') or rule.get('record')} uses {unknown}"


def test_alerts_are_documented_and_have_severity() -> None:
    for alert in _alerts():
        assert alert["labels"]["severity"] in {"warning", "critical"}
        assert alert["annotations"]["summary"] and alert["annotations"]["description"]
        assert "for" in alert, f"{alert['alert']} would fire on a single evaluation"


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    doc = yaml.safe_load(TESTS.read_text())
    assert doc["rule_files"] == ["../rules/homerec.rules.yml"]
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in doc["tests"]:
        for check in case.get("alert_rule_test", []):
            (fires if check["exp_alerts"] else quiet).add(check["alertname"])
    names = {a["alert"] for a in _alerts()}
    assert names <= fires, f"no test shows these alerts firing: {names - fires}"
    assert names <= quiet, f"no test shows these alerts quiet: {names - quiet}"


def test_scrape_config_matches_the_rules_and_the_worker_port() -> None:
    doc = yaml.safe_load((PROM / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in doc["scrape_configs"]}
    worker = jobs["homerec-worker"]
    assert worker["dns_sd_configs"][0]["port"] == 9400
    assert doc["rule_files"] == ["rules/homerec.rules.yml"]
    for alert in _alerts():
        if "up{" in alert["expr"]:
            assert 'job="homerec-worker"' in alert["expr"]


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("promtool missing in CI: apt-get install -y prometheus")
        pytest.skip("promtool not installed (apt-get install -y prometheus)")
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "config", str(PROM / "prometheus.yml")],
        ["check", "rules", str(RULES)],
        ["test", "rules", TESTS.name],
    ],
    ids=["check-config", "check-rules", "test-rules"],
)
def test_promtool(argv: list[str]) -> None:
    done = subprocess.run(  # noqa: S603
        [_promtool(), *argv], cwd=TESTS.parent, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr

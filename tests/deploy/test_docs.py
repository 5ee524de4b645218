"""docs/operations.md stays in step with the metric catalog and the alert rules."""

from __future__ import annotations

import re

import yaml

from streams import metrics
from tests.deploy.catalog import ROOT

DOC = ROOT / "docs/operations.md"
RULES = ROOT / "deploy/prometheus/rules/homerec.rules.yml"
RULE_TESTS = ROOT / "deploy/prometheus/tests/homerec.rules.test.yml"


def _section(title: str) -> str:
    text = DOC.read_text()
    start = text.index(f"### {title}\n")
    end = text.find("\n### ", start + 1)
    return text[start : end if end != -1 else None]


def _first_column(section: str) -> list[str]:
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [re.match(r"\| `([^`]+)`", row).group(1) for row in rows]  # type: ignore[union-attr]


def _exposed_base_names() -> set[str]:
    names = set()
    for attr in metrics.__all__:
        for family in getattr(metrics, attr).describe():
            suffix = {"counter": "_total", "info": "_info"}.get(family.type, "")
            names.add(family.name + suffix)
    return names


def test_metrics_table_lists_exactly_the_catalog() -> None:
    documented = _first_column(_section("Metrics"))
    assert len(documented) == len(set(documented))
    assert set(documented) == _exposed_base_names()


def test_metrics_table_has_the_catalog_s_labels_and_types() -> None:
    rows = {
        name: row
        for name, row in zip(
            _first_column(_section("Metrics")),
            [ln for ln in _section("Metrics").splitlines() if ln.startswith("| `")],
            strict=True,
        )
    }
    for attr in metrics.__all__:
        obj = getattr(metrics, attr)
        for family in obj.describe():
            name = family.name + {"counter": "_total", "info": "_info"}.get(family.type, "")
            cells = [c.strip() for c in rows[name].strip("|").split("|")]
            assert cells[1] == family.type, name
            for label in obj._labelnames:
                assert f"`{label}`" in cells[2], (name, label)


def test_alert_table_lists_every_alert_with_its_tests() -> None:
    rules = yaml.safe_load(RULES.read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    section = _section("Alerts")
    assert set(_first_column(section)) == alerts
    test_names = {case["name"] for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]}
    quoted = re.findall(r'"([^"]+)"', section)
    assert len(quoted) >= len(alerts)
    for name in quoted:
        assert name in test_names, f"docs name a rule test that does not exist: {name!r}"

"""What metric names the worker exposes and which names deploy files may use."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client.metrics import MetricWrapperBase

from streams import metrics

__all__ = ["ROOT", "exposed_names", "names_in", "recording_rules"]

ROOT = Path(__file__).resolve().parents[2]
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created", ""),
    "gauge": ("",),
    "info": ("_info",),
}
_NAME_RE = re.compile(r"\bhomerec(?:_[a-z0-9_]+|:[a-z0-9_:]+)")


def exposed_names() -> set[str]:
    """Every sample name the catalog of streams.metrics can expose."""
    names: set[str] = set()
    for attr in metrics.__all__:
        obj = getattr(metrics, attr)
        assert isinstance(obj, MetricWrapperBase), attr
        for family in obj.describe():
            for suffix in _SUFFIXES[family.type]:
                names.add(family.name + suffix)
    return names


def recording_rules() -> set[str]:
    doc = yaml.safe_load((ROOT / "deploy/prometheus/rules/homerec.rules.yml").read_text())
    return {r["record"] for g in doc["groups"] for r in g["rules"] if "record" in r}


def names_in(expr: str) -> set[str]:
    """homerec metric and recording-rule names used in a PromQL expression."""
    return set(_NAME_RE.findall(expr))

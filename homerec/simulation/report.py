"""The figures of one closed-loop run, and how they compare with the reference policies.

>>> r = SimulationReport(policy="x", seed=0, sessions=4, pages=4, impressions=40, clicks=4,
...                      ctr=0.1, ctr_last_quarter=0.2)
>>> r.with_baselines({"random": SimulationReport(policy="random", seed=0, sessions=4,
...                   pages=4, impressions=40, clicks=2, ctr=0.05, ctr_last_quarter=0.05)}
...                  ).relative_last_quarter
{'random': 4.0}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from homerec.simulation.metrics import WindowPoint

__all__ = ["SimulationReport"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationReport:
    """One policy's run; ``relative_*`` compare its CTR with other runs on the same world."""

    policy: str
    seed: int
    sessions: int
    pages: int
    impressions: int
    clicks: int
    #: Clicks per impression over the run, and over its last quarter.
    ctr: float
    ctr_last_quarter: float
    #: Share of the items ever in the catalog that were shown at least once.
    coverage: float = 0.0
    #: Gini of impressions over every item ever in the catalog.
    impression_gini: float = 0.0
    #: Items added during the run.
    new_items: int = 0
    #: Sessions from arrival to first impression: median and 90th percentile, never-shown
    #: items counting as longer than any (``None``: the quantile is among those).
    new_first_median: float | None = None
    new_first_p90: float | None = None
    #: Share of the items added during the run that were never shown.
    new_never_shown: float = 0.0
    #: Pages with fewer than k items while at least k candidates remained.
    short_pages: int = 0
    #: Impressions of retired items (must be 0).
    inactive_shown: int = 0
    #: Events fed to the policy, by type; organic ones (search) among them.
    events: Mapping[str, int] = field(default_factory=dict)
    organic_events: int = 0
    seconds: float = 0.0
    #: Last-quarter (and whole-run) CTR divided by each reference policy's.
    relative_last_quarter: Mapping[str, float] = field(default_factory=dict)
    relative: Mapping[str, float] = field(default_factory=dict)
    windows: tuple[WindowPoint, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def short_page_share(self) -> float:
        return self.short_pages / self.pages if self.pages else 0.0

    def with_baselines(self, others: Mapping[str, SimulationReport]) -> SimulationReport:
        """A copy with the CTR ratios to ``others`` (runs of other policies on the same world)."""
        last = {n: _div(self.ctr_last_quarter, o.ctr_last_quarter) for n, o in others.items()}
        whole = {n: _div(self.ctr, o.ctr) for n, o in others.items()}
        return replace(self, relative_last_quarter=last, relative=whole)

    def as_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready values (floats rounded to 5 decimals)."""
        out = asdict(self)
        out["short_page_share"] = self.short_page_share
        out["windows"] = [asdict(w) for w in self.windows]
        out["events"] = dict(self.events)
        out["config"] = dict(self.config)
        out["relative_last_quarter"] = dict(self.relative_last_quarter)
        out["relative"] = dict(self.relative)
        rounded: dict[str, Any] = _rounded(out)
        return rounded

    def to_json(self) -> str:
        """One line of JSON (keys sorted)."""
        return json.dumps(self.as_dict(), sort_keys=True)


def _div(a: float, b: float) -> float:
    return a / b if b else float("nan")


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return None if value != value else round(value, 5)  # NaN -> null
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value

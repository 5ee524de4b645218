"""Helpers of the hybrid's tests: a model trained on the planted stream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from homerec.checks import planted_stream
from homerec.models.hybrid import Hybrid
from homerec.models.hybrid.planes import Plane

__all__ = ["T0", "Trained", "train", "with_click_rates"]

T0 = 1_700_000_000_000

Trained = Callable[..., Hybrid]


def train(n_items: int = 60, n_events: int = 800, **kw: Any) -> Hybrid:
    """A hybrid (8 factors) fed the planted stream's catalog, profiles and events."""
    events, items, profiles = planted_stream(n_items=n_items, n_events=n_events)
    m = Hybrid(n_factors=8, **kw)
    for it in items:
        m.update_item(it)
    for p in profiles:
        m.update_user(p)
    m.learn_many(events)
    return m


def with_click_rates(m: Hybrid, weight: float = 1.5) -> Hybrid:
    """``m`` with exposure and clicks on pages for every item (a few never shown) and the
    ranker's ``item_rate`` weight set: a plane that is zero without pages shown."""
    n = m.n_items
    rows = np.arange(n)
    shown = (rows % 7).astype(np.float64) * 3.0
    m._rates.add_shown(rows, shown)
    for i in rows[rows % 3 == 0].tolist():
        for _ in range(1 + i % 4):
            m._rates.add_click(i)
    m.tables.shared.ranker.w[Plane.ITEM_RATE] = weight
    m._version += 1  # the scorer's caches are keyed by the version
    return m

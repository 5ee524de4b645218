"""Helpers of the hybrid's tests: a model trained on the planted stream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homerec.checks import planted_stream
from homerec.models.hybrid import Hybrid

__all__ = ["T0", "Trained", "train"]

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

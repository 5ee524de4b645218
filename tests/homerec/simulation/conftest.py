"""Factory fixtures of the simulation tests: small worlds that run in a fraction of a second."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from homerec.simulation import SimulationConfig

SMALL: dict[str, Any] = {
    "n_users": 60,
    "n_items": 120,
    "n_sessions": 600,
    "batch": 20,
    "churn_every": 150,
    "churn_add": 10,
    "churn_retire": 8,
    "windows": 6,
}


@pytest.fixture
def small_config() -> Callable[..., SimulationConfig]:
    """``small_config(**overrides)``: a small world's config."""

    def make(**overrides: Any) -> SimulationConfig:
        return SimulationConfig(**{**SMALL, **overrides})

    return make

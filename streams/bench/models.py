"""The model under test: built by its ``--model`` name and warmed before any clock starts."""

from __future__ import annotations

import time
from typing import Any

from homerec.models.base import Recommender
from streams.bench.workload import Workload

__all__ = ["build_model", "model_info", "warm_model"]


def build_model(name: str) -> Recommender:
    """The model as ``homerec worker --model name`` builds it (``WORKER_PARAMS`` included)."""
    from homerec.models import WORKER_PARAMS, make_model

    return make_model(name, **WORKER_PARAMS)


def warm_model(model: Recommender, workload: Workload) -> float:
    """Catalog, every user's profile, then the warm-up events; returns the seconds it took.

    After this the model holds state for every user of the world (``n_users``
    rows) and every catalog item, as a long-running worker would.
    """
    started = time.perf_counter()
    for item in workload.items:
        model.update_item(item)
    for profile in workload.profiles:
        model.update_user(profile)
    model.learn_many(workload.warm)
    return time.perf_counter() - started


def model_info(model: Recommender) -> dict[str, Any]:
    """Name and size parameters of a model, for the report."""
    info: dict[str, Any] = {"model": model.name}
    for attr in ("n_factors",):
        value = getattr(model, attr, None)
        if value is not None:
            info[attr] = value
    return info

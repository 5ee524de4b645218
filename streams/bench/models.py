"""The model under test: built by its ``--model`` name and warmed before any clock starts."""

from __future__ import annotations

import time
from typing import Any

from homerec.models.base import Recommender
from homerec.typing import Scored, UserId
from streams.bench.workload import Workload

__all__ = ["build_model", "model_info", "timed_rerank", "warm_model"]


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


def timed_rerank(
    model: Recommender, users: list[UserId], k: int
) -> tuple[list[list[Scored]], float]:
    """One vectorised re-rank of ``users``: the lists and the milliseconds per user
    (a short call first keeps first-call effects, such as allocation, out of the clock)."""
    model.recommend_many(users[:8], k)
    t0 = time.perf_counter()
    lists = model.recommend_many(users, k)
    return lists, (time.perf_counter() - t0) * 1000.0 / max(1, len(users))


def model_info(model: Recommender) -> dict[str, Any]:
    """Name and size parameters of a model, for the report."""
    info: dict[str, Any] = {"model": model.name}
    for attr in ("n_factors",):
        value = getattr(model, attr, None)
        if value is not None:
            info[attr] = value
    return info

"""The hybrid's ANN candidate stage (``ann_candidates``) against its exact re-rank.

No broker here. Two copies of the hybrid learn the same world (``n_items``
items); one scores every item, the other only the candidates its index
proposes (:class:`homerec.candidates.AnnCandidates`). Reported: the index build
time, re-rank cost per user of both, and the recall@``k`` of the candidate
stage's lists against the exact lists: right after a build, and again after
``stale_events`` more events learned without a rebuild (the candidates are then
proposed by an index of older vectors; their scores are current).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from homerec.models import WORKER_PARAMS, make_model
from homerec.typing import Scored
from streams.bench.models import timed_rerank, warm_model
from streams.bench.rows import rounded_fields
from streams.bench.workload import Workload, WorkloadSpec

__all__ = ["AnnStageRow", "ann_stage_row", "list_recall"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AnnStageRow:
    """One catalog size: exact vs candidate-stage re-rank of the hybrid."""

    n_items: int
    candidates: int
    k: int
    users: int
    build_s: float
    exact_ms_per_user: float
    ann_ms_per_user: float
    recall_at_k: float
    stale_events: int
    recall_at_k_stale: float

    def to_dict(self) -> dict[str, Any]:
        return rounded_fields(self, 4)


def list_recall(found: Sequence[Sequence[Scored]], truth: Sequence[Sequence[Scored]]) -> float:
    """Share of the items of the ``truth`` lists that the ``found`` lists hold too.

    >>> list_recall([[("a", 1.0), ("b", 0.5)]], [[("a", 2.0), ("c", 1.0)]])
    0.5
    """
    hits = sum(
        len({i for i, _ in f} & {i for i, _ in t}) for f, t in zip(found, truth, strict=True)
    )
    total = sum(len(t) for t in truth)
    return hits / total if total else 1.0


def ann_stage_row(
    n_items: int,
    *,
    candidates: int = 200,
    k: int = 10,
    n_users: int = 100_000,
    users: int = 500,
    stale_events: int = 5_000,
    seed: int = 42,
) -> AnnStageRow:
    """Measure the candidate stage at ``n_items`` (see the module docstring)."""
    workload = Workload.build(
        WorkloadSpec(
            n_users=n_users,
            n_items=n_items,
            n_events=2_000 + stale_events,
            warm_events=2_000,
            seed=seed,
        )
    )
    # exploration off: the stage is compared list for list with the exact re-rank, and the
    # explored slots are random draws in either
    params = {**WORKER_PARAMS, "explore": 0.0}
    exact = make_model("hybrid", **params)
    # never rebuilt during the run: the stale measurement uses the first index
    staged = make_model("hybrid", **params, ann_candidates=candidates, ann_rebuild_every=10**9)
    for model in (exact, staged):
        warm_model(model, workload)
        model.learn_many(workload.events[:2_000])
    who = list(dict.fromkeys(e.user for e in workload.events[:2_000]))[:users]
    stage = getattr(staged, "_ann", None)
    if stage is None:
        raise RuntimeError("the hybrid was built without its candidate stage")
    t0 = time.perf_counter()
    staged.recommend_many(who[:1], k)  # starts the build
    stage.wait()
    build_s = time.perf_counter() - t0
    truth, exact_ms = timed_rerank(exact, who, k)
    found, ann_ms = timed_rerank(staged, who, k)
    recall = list_recall(found, truth)
    rest = workload.events[2_000:]
    for model in (exact, staged):
        model.learn_many(rest)
    stale = list_recall(staged.recommend_many(who, k), exact.recommend_many(who, k))
    row = AnnStageRow(
        n_items=n_items,
        candidates=candidates,
        k=k,
        users=len(who),
        build_s=build_s,
        exact_ms_per_user=exact_ms,
        ann_ms_per_user=ann_ms,
        recall_at_k=recall,
        stale_events=len(rest),
        recall_at_k_stale=stale,
    )
    log.info("ann stage %d items, %d candidates: exact %.3f ms/user, staged %.3f ms/user, "
             "recall@%d %.3f (%.3f after %d events without a rebuild), build %.1fs",
             n_items, candidates, exact_ms, ann_ms, k, recall, stale, len(rest),
             build_s)  # fmt: skip
    return row

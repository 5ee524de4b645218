"""How cost grows with the catalog: re-rank cost and learn + re-rank throughput, and ANN recall.

No broker here: the model is driven the way the worker drives it (one
``learn_many`` per batch, then one ``recommend_many`` for the users the batch
touched), for catalogs of 1K, 10K and 100K items, so the table isolates the
model's cost from Kafka's.

The ANN part compares exact inner-product top-``n`` (one matrix product and
``argpartition``, what exact scoring costs at its core) with
:class:`homerec.ann.CandidateIndex` (hnswlib) on ``n_factors``-dimensional
Gaussian factors with a Zipf-shaped item bias (searched by augmentation, as
``p·q + b``): query time per user and recall@K against exact.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from homerec.ann import CandidateIndex, augment_items, augment_users, exact_top_n, recall_at_k
from streams.bench.models import build_model, timed_rerank, warm_model
from streams.bench.rows import rounded_fields
from streams.bench.workload import Workload, WorkloadSpec

__all__ = ["AnnRow", "ScalingRow", "ann_row", "scaling_row"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ScalingRow:
    """One catalog size: per-user re-rank cost and batch throughput (no Kafka)."""

    n_items: int
    rerank_users: int
    rerank_ms_per_user: float
    learn_ms_per_event: float
    batch: int
    events: int
    eps: float

    def to_dict(self) -> dict[str, Any]:
        return rounded_fields(self, 3)


@dataclass(frozen=True, slots=True)
class AnnRow:
    """One catalog size: exact vs hnswlib top-``n`` per user, and hnswlib's recall@``k``."""

    n_items: int
    dim: int
    k: int
    method: str
    build_s: float
    exact_ms_per_user: float
    ann_ms_per_user: float
    recall_at_k: float

    def to_dict(self) -> dict[str, Any]:
        return rounded_fields(self, 4)


def scaling_row(
    model_name: str,
    n_items: int,
    *,
    n_users: int = 100_000,
    warm_events: int = 500,
    batch: int = 500,
    rerank_users: int = 256,
    max_seconds: float = 20.0,
    k: int = 10,
    seed: int = 42,
) -> ScalingRow:
    """Warm a model on a catalog of ``n_items``; time re-ranks and batches of ``batch`` events."""
    n_events = max(batch * 4, 2_000)
    workload = Workload.build(
        WorkloadSpec(
            n_users=n_users, n_items=n_items, n_events=n_events, warm_events=warm_events, seed=seed
        )
    )
    model = build_model(model_name)
    warm_model(model, workload)
    # re-rank cost: distinct users of the stream, one vectorised call
    users = list(dict.fromkeys(e.user for e in workload.events))[:rerank_users]
    _, rerank_ms = timed_rerank(model, users, k)
    # the worker's cycle without Kafka: learn the batch, re-rank its users
    events = workload.events
    done = 0
    learn_s = 0.0
    started = time.perf_counter()
    while done < len(events) and time.perf_counter() - started < max_seconds:
        chunk = events[done : done + batch]
        t1 = time.perf_counter()
        model.learn_many(chunk)
        learn_s += time.perf_counter() - t1
        model.recommend_many(list(dict.fromkeys(e.user for e in chunk)), k)
        done += len(chunk)
    elapsed = time.perf_counter() - started
    row = ScalingRow(
        n_items=n_items,
        rerank_users=len(users),
        rerank_ms_per_user=rerank_ms,
        learn_ms_per_event=learn_s * 1000.0 / max(1, done),
        batch=batch,
        events=done,
        eps=done / elapsed if elapsed > 0 else 0.0,
    )
    log.info("scaling %d items: re-rank %.2f ms/user, learn %.2f ms/event, %.0f events/s",
             n_items, row.rerank_ms_per_user, row.learn_ms_per_event, row.eps)  # fmt: skip
    return row


def ann_row(
    n_items: int,
    *,
    dim: int = 32,
    k: int = 100,
    n_queries: int = 500,
    method: str = "hnsw",
    ef_search: int = 128,
    ef_construction: int = 100,
    seed: int = 42,
) -> AnnRow:
    """Exact vs ANN top-``k`` on seeded random factors of ``n_items`` items."""
    rng = np.random.default_rng(seed)
    items = rng.normal(0.0, 1.0 / np.sqrt(dim), (n_items, dim)).astype(np.float32)
    ranks = np.arange(1, n_items + 1, dtype=np.float64)
    bias = (-0.8 * np.log(ranks))[rng.permutation(n_items)]
    bias = ((bias - bias.mean()) / (bias.std() + 1e-9) * 0.3).astype(np.float32)
    users = rng.normal(0.0, 1.0 / np.sqrt(dim), (n_queries, dim)).astype(np.float32)
    xi, xu = augment_items(items, bias), augment_users(users)
    t0 = time.perf_counter()
    truth = exact_top_n(xu, xi, k)
    exact_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = CandidateIndex(
        dim + 1,
        method=method,  # type: ignore[arg-type]
        ef_search=ef_search,
        ef_construction=ef_construction,
        seed=seed,
    )
    index.build(xi)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    found, _ = index.query(xu, k)
    ann_s = time.perf_counter() - t0
    row = AnnRow(
        n_items=n_items,
        dim=dim,
        k=k,
        method=index.method,
        build_s=build_s,
        exact_ms_per_user=exact_s * 1000.0 / n_queries,
        ann_ms_per_user=ann_s * 1000.0 / n_queries,
        recall_at_k=recall_at_k(found, truth),
    )
    log.info("ann %d items: exact %.3f ms/user, %s %.3f ms/user, recall@%d %.3f",
             n_items, row.exact_ms_per_user, row.method, row.ann_ms_per_user, k,
             row.recall_at_k)  # fmt: skip
    return row

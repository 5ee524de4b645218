"""Prequential (test-then-learn) evaluation through the worker's own model calls.

Protocol: events in timestamp order (ties keep source order). Before an event
whose feedback is positive (rating ≥ 4, click, share) and whose item appeared
earlier in the stream, the model ranks for the event's user — through
:meth:`Recommender.recommend_many`, exactly as the worker does, so the
candidates are the items seen so far minus everything this user interacted
with — and the test case is a hit if the item is in the top ``k``. Then every
event is learned through :meth:`Recommender.learn_many`. Catalog records and
user profiles are given to the model first (metadata, not the future), each as
``profile_schema.apply(profile)`` (its demographic groups), as the worker does.

>>> from homerec.datasets.base import Dataset
>>> from homerec.events import Event
>>> from homerec.models.popularity import Popularity
>>> ev = [Event(f"u{n}", "a", "rating", 10**12 + n, 5.0) for n in range(4)]
>>> r = evaluate(Popularity(), Dataset("t", ev), k=1)
>>> r.test_cases, r.hr, r.ndcg
(3, 1.0, 1.0)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from homerec.datasets.base import Dataset
from homerec.evaluation.metrics import hit_and_ndcg
from homerec.feedback import FeedbackWeights
from homerec.models.base import Recommender
from homerec.profiles import ProfileSchema

__all__ = ["CurvePoint", "EvalResult", "evaluate"]

#: A test case is "cold" for the user among the user's first COLD events, for the item
#: while the item has fewer than COLD earlier interactions.
COLD = 5


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """HR@K along the stream: after ``events`` events, cumulative and over the last window."""

    events: int
    hr: float
    window_hr: float


@dataclass(slots=True)
class EvalResult:
    model: str
    k: int
    events: int = 0
    test_cases: int = 0
    hits: int = 0
    ndcg_sum: float = 0.0
    cold_user_cases: int = 0
    cold_user_hits: int = 0
    cold_item_cases: int = 0
    cold_item_hits: int = 0
    coverage: float = 0.0
    mae: float | None = None
    rmse: float | None = None
    seconds: float = 0.0
    curve: list[CurvePoint] = field(default_factory=list)

    @property
    def hr(self) -> float:
        return self.hits / self.test_cases if self.test_cases else 0.0

    @property
    def ndcg(self) -> float:
        return self.ndcg_sum / self.test_cases if self.test_cases else 0.0

    @property
    def cold_user_hr(self) -> float:
        return self.cold_user_hits / self.cold_user_cases if self.cold_user_cases else 0.0

    @property
    def cold_item_hr(self) -> float:
        return self.cold_item_hits / self.cold_item_cases if self.cold_item_cases else 0.0

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The JSON summary (``homerec eval --json``)."""
        return {
            "model": self.model,
            "k": self.k,
            "hr": round(self.hr, 5),
            "ndcg": round(self.ndcg, 5),
            "coverage": round(self.coverage, 5),
            "cold_user_hr": round(self.cold_user_hr, 5),
            "cold_item_hr": round(self.cold_item_hr, 5),
            "test_cases": self.test_cases,
            "cold_user_cases": self.cold_user_cases,
            "cold_item_cases": self.cold_item_cases,
            "mae": None if self.mae is None else round(self.mae, 5),
            "rmse": None if self.rmse is None else round(self.rmse, 5),
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "events_per_s": round(self.events_per_s, 1),
        }


def evaluate(
    model: Recommender,
    dataset: Dataset,
    k: int = 10,
    *,
    feedback: FeedbackWeights | None = None,
    progress: bool = False,
    curve_every: int = 2000,
    max_events: int | None = None,
    on_case: Callable[[int, bool], None] | None = None,
    profile_schema: ProfileSchema | None = None,
) -> EvalResult:
    """Run the prequential protocol of ``model`` over ``dataset``; see the module docstring."""
    fw = feedback or FeedbackWeights()
    result = EvalResult(model=model.name, k=k)
    events = dataset.events if max_events is None else dataset.events[:max_events]
    from river import metrics  # imported here (it pulls in SciPy), before the clock starts

    t0 = time.perf_counter()
    for item in dataset.items:
        model.update_item(item)
    schema = profile_schema or ProfileSchema()
    for profile in dataset.profiles:
        model.update_user(schema.apply(profile))
    item_seen: dict[str, int] = {}
    user_seen: dict[str, int] = {}
    recommended: set[str] = set()
    river_metrics: Any = metrics  # River is untyped
    mae, rmse = river_metrics.MAE(), river_metrics.RMSE()
    window: list[bool] = []
    n_rated = 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(events), file=sys.stderr, unit="ev", mininterval=0.5, leave=False)
    for n, event in enumerate(events):
        n_item = item_seen.get(event.item, 0)
        n_user = user_seen.get(event.user, 0)
        if event.type == "rating" and event.value is not None:
            guess = model.predict_one(event.user, event.item)
            if guess is not None:
                n_rated += 1
                mae.update(event.value, guess)
                rmse.update(event.value, guess)
        if n_item > 0 and fw.is_positive(event):
            ranked = [item for item, _ in model.recommend_many([event.user], k)[0]]
            recommended.update(ranked)
            hit, gain = hit_and_ndcg(ranked, event.item)
            result.test_cases += 1
            result.hits += hit
            result.ndcg_sum += gain
            if n_user < COLD:
                result.cold_user_cases += 1
                result.cold_user_hits += hit
            if n_item < COLD:
                result.cold_item_cases += 1
                result.cold_item_hits += hit
            window.append(hit)
            if on_case is not None:
                on_case(n, hit)
        model.learn_many((event,))
        item_seen[event.item] = n_item + 1
        user_seen[event.user] = n_user + 1
        if bar is not None and n % 1000 == 999:
            bar.update(1000)
        if curve_every and (n + 1) % curve_every == 0:
            recent = window[-curve_every:]
            result.curve.append(
                CurvePoint(n + 1, result.hr, sum(recent) / len(recent) if recent else 0.0)
            )
            del window[:-curve_every]
    if bar is not None:
        bar.close()
    result.seconds = time.perf_counter() - t0
    result.events = len(events)
    result.coverage = len(recommended) / len(item_seen) if item_seen else 0.0
    if n_rated:
        result.mae = float(mae.get())
        result.rmse = float(rmse.get())
    return result

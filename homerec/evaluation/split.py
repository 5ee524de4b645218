"""Static temporal split: learn the past in one go, then one list per user for the future.

Protocol (issue 20), next to the prequential one and over the same inputs:

* Events in timestamp order (ties keep source order). The first
  ``floor(train_share × n)`` events are the *training part*, the rest the
  *test part* (the boundary is a position in the stream, so two events with
  the same timestamp may fall on either side of it).
* The model gets the catalog (``update_item``) and, with ``profiles=True``,
  every user's profile (``update_user``) first — a new user's profile is known
  at sign-up, their behaviour is not — then learns the training part through
  ``learn_many`` in batches. It learns nothing from the test part.
* **Cold users** first appear in the test part; **warm users** appeared in the
  training part. A user's *relevant items* are the items of their positive
  test-part events (:meth:`FeedbackWeights.is_positive`: rating ≥ 4, click,
  share — as in the prequential protocol) that appeared in the training part
  (only those can be candidates) and that the user did not interact with in
  the training part (the model never shows those). Users with no relevant item
  are not evaluated.
* Each evaluated user gets one top-``k`` list after training
  (``recommend_many``, in blocks). **HR@k**: share of users with at least one
  relevant item in their list. **NDCG@k**: the standard binary NDCG over all the
  user's relevant items, ``Σ_{hits} 1/log2(rank + 2) / Σ_{r < min(|rel|, k)}
  1/log2(r + 2)`` (rank 0-based), averaged over users. **Coverage**: share of the
  training part's items that appear in at least one of the group's lists.

>>> from homerec.datasets.base import Dataset
>>> from homerec.events import Event
>>> from homerec.models.popularity import Popularity
>>> ev = [Event("u1", "a", "click", 1), Event("u2", "a", "click", 2),
...       Event("u2", "b", "click", 3), Event("u3", "a", "click", 4), Event("u1", "b", "click", 5)]
>>> r = evaluate_split(Popularity(), Dataset("t", ev), k=1, train_share=0.6)
>>> (r.cold.users, r.cold.hr), (r.warm.users, r.warm.hr)
((1, 1.0), (1, 1.0))
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from homerec.datasets.base import Dataset
from homerec.errors import ConfigError
from homerec.events import Event
from homerec.feedback import FeedbackWeights
from homerec.models.base import Recommender
from homerec.typing import ItemId, UserId

__all__ = ["Split", "SplitGroup", "SplitResult", "evaluate_split", "split_events"]

#: Training events given to ``learn_many`` at a time (the default of ``batch``).
LEARN_BATCH = 1000
#: Users given to ``recommend_many`` at a time.
RECOMMEND_BLOCK = 256


@dataclass(frozen=True, slots=True)
class Split:
    """Where the stream is cut and who is evaluated (no model involved).

    ``cold`` and ``warm`` map each evaluated user, in order of their first test-part
    event, to their relevant items, in order of first relevant event.
    """

    train: Sequence[Event]
    test: Sequence[Event]
    cold: dict[UserId, tuple[ItemId, ...]]
    warm: dict[UserId, tuple[ItemId, ...]]
    #: Users first seen in the test part, including those with no relevant item.
    new_users: int
    train_items: frozenset[ItemId]


def split_events(
    events: Sequence[Event], train_share: float = 0.8, *, feedback: FeedbackWeights | None = None
) -> Split:
    """Cut time-ordered ``events`` and find the cold and warm users with their relevant items.

    >>> ev = [Event("u1", "a", "rating", 1, 5.0), Event("u2", "b", "rating", 2, 2.0),
    ...       Event("u3", "a", "rating", 3, 4.0), Event("u1", "b", "rating", 4, 4.0)]
    >>> s = split_events(ev, 0.5)
    >>> len(s.train), dict(s.cold), dict(s.warm), s.new_users
    (2, {'u3': ('a',)}, {'u1': ('b',)}, 1)
    """
    if not 0.0 < train_share < 1.0:
        raise ConfigError(f"train_share must be in (0, 1), got {train_share}")
    fw = feedback or FeedbackWeights()
    cut = math.floor(train_share * len(events))
    train, test = events[:cut], events[cut:]
    seen_by: dict[UserId, set[ItemId]] = {}
    for e in train:
        seen_by.setdefault(e.user, set()).add(e.item)
    train_items = frozenset(e.item for e in train)
    relevant: dict[UserId, dict[ItemId, None]] = {}  # insertion-ordered sets
    new_users: dict[UserId, None] = {}
    for e in test:
        if e.user not in seen_by:
            new_users.setdefault(e.user)
        rel = relevant.setdefault(e.user, {})
        if fw.is_positive(e) and e.item in train_items and e.item not in seen_by.get(e.user, ()):
            rel.setdefault(e.item)
    cold = {u: tuple(r) for u, r in relevant.items() if r and u not in seen_by}
    warm = {u: tuple(r) for u, r in relevant.items() if r and u in seen_by}
    return Split(train, test, cold, warm, len(new_users), train_items)


@dataclass(frozen=True, slots=True)
class SplitGroup:
    """The figures of one group of users (cold or warm)."""

    users: int = 0
    hits: int = 0
    ndcg_sum: float = 0.0
    relevant: int = 0
    coverage: float = 0.0

    @property
    def hr(self) -> float:
        return self.hits / self.users if self.users else 0.0

    @property
    def ndcg(self) -> float:
        return self.ndcg_sum / self.users if self.users else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "hits": self.hits,
            "hr": round(self.hr, 5),
            "ndcg": round(self.ndcg, 5),
            "relevant_items": self.relevant,
            "coverage": round(self.coverage, 5),
        }


@dataclass(frozen=True, slots=True)
class SplitResult:
    model: str
    k: int
    train_share: float
    #: Profiles given to the model (0 with ``profiles=False`` or when the data has none).
    profiles: int
    train_events: int
    test_events: int
    new_users: int
    cold: SplitGroup
    warm: SplitGroup
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """The JSON summary (``homerec eval --protocol split --json``)."""
        return {
            "protocol": "split",
            "model": self.model,
            "k": self.k,
            "train_share": self.train_share,
            "profiles": self.profiles,
            "train_events": self.train_events,
            "test_events": self.test_events,
            "new_users": self.new_users,
            "cold": self.cold.as_dict(),
            "warm": self.warm.as_dict(),
            "seconds": round(self.seconds, 3),
        }


def _ndcg(ranked: Sequence[ItemId], relevant: frozenset[ItemId], k: int) -> float:
    """Binary NDCG@k of ``ranked`` against every relevant item.

    >>> round(_ndcg(["x", "a", "b"], frozenset({"a", "b"}), 3), 4)
    0.6934
    """
    dcg = sum(1.0 / math.log2(r + 2) for r, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1.0 / math.log2(r + 2) for r in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def _score_group(
    model: Recommender, users: dict[UserId, tuple[ItemId, ...]], k: int, n_items: int
) -> SplitGroup:
    order = list(users)
    hits, ndcg_sum, n_relevant = 0, 0.0, 0
    shown: set[ItemId] = set()
    for start in range(0, len(order), RECOMMEND_BLOCK):
        block = order[start : start + RECOMMEND_BLOCK]
        for user, scored in zip(block, model.recommend_many(block, k), strict=True):
            ranked = [item for item, _ in scored[:k]]
            shown.update(ranked)
            relevant = frozenset(users[user])
            n_relevant += len(relevant)
            hits += not relevant.isdisjoint(ranked)
            ndcg_sum += _ndcg(ranked, relevant, k)
    coverage = len(shown) / n_items if n_items else 0.0
    return SplitGroup(len(order), hits, ndcg_sum, n_relevant, coverage)


def evaluate_split(
    model: Recommender,
    dataset: Dataset,
    k: int = 10,
    *,
    train_share: float = 0.8,
    profiles: bool = True,
    feedback: FeedbackWeights | None = None,
    progress: bool = False,
    max_events: int | None = None,
    batch: int = LEARN_BATCH,
) -> SplitResult:
    """Run the static temporal split protocol of ``model`` over ``dataset``; see the module
    docstring. ``feedback`` decides which test-part events are positive (the model keeps
    its own weights); ``max_events`` cuts the stream before it is split; ``batch``
    training events go to each ``learn_many`` call."""
    if batch < 1:
        raise ConfigError(f"batch must be >= 1, got {batch}")
    events = dataset.events if max_events is None else dataset.events[:max_events]
    split = split_events(events, train_share, feedback=feedback)
    t0 = time.perf_counter()
    for item in dataset.items:
        model.update_item(item)
    given = tuple(dataset.profiles) if profiles else ()
    for profile in given:
        model.update_user(profile)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(split.train), file=sys.stderr, unit="ev", mininterval=0.5,
                   leave=False)  # fmt: skip
    for start in range(0, len(split.train), batch):
        chunk = split.train[start : start + batch]
        model.learn_many(chunk)
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    n_items = len(split.train_items)
    cold = _score_group(model, split.cold, k, n_items)
    warm = _score_group(model, split.warm, k, n_items)
    return SplitResult(
        model=model.name,
        k=k,
        train_share=train_share,
        profiles=len(given),
        train_events=len(split.train),
        test_events=len(split.test),
        new_users=split.new_users,
        cold=cold,
        warm=warm,
        seconds=time.perf_counter() - t0,
    )

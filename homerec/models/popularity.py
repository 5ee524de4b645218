"""Most-popular baseline: items ranked by how many events they had so far."""

from __future__ import annotations

from typing import Any

import numpy as np

from homerec.events import Event
from homerec.feedback import FeedbackWeights
from homerec.hiding import HidingRules
from homerec.models.indexed import Candidates, IndexedRecommender
from homerec.typing import FloatArray, IntArray

__all__ = ["Popularity"]


class Popularity(IndexedRecommender):
    """Rank every candidate by its count of events (any type), same list for everyone.

    >>> from homerec.events import Event
    >>> m = Popularity()
    >>> m.learn_many([Event("u1", "a", "click", 10**12), Event("u2", "a", "click", 10**12),
    ...               Event("u2", "b", "click", 10**12)])
    >>> m.recommend("u3", 2)
    [('a', 2.0), ('b', 1.0)]
    >>> m.recommend("u2", 2)
    []
    """

    name = "popularity"

    def __init__(
        self,
        *,
        candidates: Candidates = "seen",
        max_tag_share: float | None = None,
        feedback: FeedbackWeights | None = None,
        explore: float = 0.0,
        hiding: HidingRules | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(
            candidates=candidates, max_tag_share=max_tag_share, feedback=feedback,
            explore=explore, hiding=hiding, seed=seed,
        )  # fmt: skip

    def _learn(self, u: int, i: int, weight: float, event: Event) -> None:
        pass  # the base class counts events per item

    def _score(self, rows: IntArray) -> FloatArray:
        n = len(self._items)
        counts = self._item_count[:n].astype(np.float32)
        return np.repeat(counts[None, :], len(rows), axis=0)

    def _extra_state(self, n_users: int, n_items: int) -> dict[str, Any]:
        return {}

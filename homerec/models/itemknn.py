"""Online item-item co-occurrence baseline over each user's recent history.

``score(u, i) = Σ_{h ∈ last L items of u} C[h, i] / (n_h · n_i) ** (alpha/2)`` — items
that co-occurred with what the user did recently, cosine-normalised.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from homerec.cooccurrence import CooccurrenceTable
from homerec.events import Event
from homerec.feedback import FeedbackWeights
from homerec.hiding import HidingRules
from homerec.models.indexed import Candidates, IndexedRecommender
from homerec.models.storage import append_row, as_rows, pack_lists, unpack_lists
from homerec.typing import FloatArray, IntArray

__all__ = ["ItemKNN"]


class ItemKNN(IndexedRecommender):
    """Co-occurrence counts within a window of each user's ``history_length`` latest items.

    >>> from homerec.events import Event
    >>> m = ItemKNN()
    >>> m.learn_many([Event("u1", "a", "click", 10**12), Event("u1", "b", "click", 10**12),
    ...               Event("u2", "c", "click", 10**12), Event("u2", "a", "click", 10**12)])
    >>> [i for i, _ in m.recommend("u2", 1)]
    ['b']
    """

    name = "itemknn"

    def __init__(
        self,
        *,
        history_length: int = 20,
        capacity: int = 256,
        alpha: float = 1.0,
        min_weight: float = 0.0,
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
        self.history_length = history_length
        self.capacity = capacity
        self.alpha = alpha
        self.min_weight = min_weight
        self._cooc = CooccurrenceTable(capacity)
        self._hist: list[bytearray] = []

    def _grow_users(self, capacity: int) -> None:
        while len(self._hist) < capacity:
            self._hist.append(bytearray())

    def _forget_rows(self, rows: IntArray) -> None:
        gone = set(rows.tolist())
        self._hist = [h for u, h in enumerate(self._hist) if u not in gone]

    def _grow_items(self, capacity: int) -> None:
        self._cooc.ensure(capacity)

    def _recent(self, u: int) -> IntArray:
        h = as_rows(self._hist[u])
        return h[-self.history_length :]

    def _learn(self, u: int, i: int, weight: float, event: Event) -> None:
        if weight < self.min_weight:
            return
        h = self._recent(u)
        h = h[h != i]
        if len(h):
            ones = np.ones(len(h), np.float32)
            self._cooc.add(h, i, ones)
            self._cooc.add_row(i, np.unique(h), np.ones(len(np.unique(h)), np.float32))
        buf = self._hist[u]
        append_row(buf, i)
        if len(buf) > 8 * self.history_length:
            self._hist[u] = buf[-4 * self.history_length :]

    def _score(self, rows: IntArray) -> FloatArray:
        n = len(self._items)
        out = np.zeros((len(rows), n), np.float32)
        norm = (self._item_count[:n] + 1.0) ** (-self.alpha / 2)
        for r, u in enumerate(rows.tolist()):
            if u < 0:
                continue
            h = np.unique(self._recent(u))
            if len(h):
                w = norm[h].astype(np.float32)
                out[r] = self._cooc.scores(h, w, n) * norm
        # popularity as a tiny tie-breaker, so users without history get a sensible list
        out += 1e-6 * np.log1p(self._item_count[:n])[None, :]
        return out

    def _extra_state(self, n_users: int, n_items: int) -> dict[str, Any]:
        off, dat = pack_lists(self._hist[:n_users])
        return {"cooc": self._cooc.state(n_items), "hist_offsets": off, "hist": dat}

    def _load_extra_state(self, state: Any, n_users: int, n_items: int) -> None:
        self._cooc = CooccurrenceTable.from_state(dict(state["cooc"]))
        self._hist = unpack_lists(state["hist_offsets"], state["hist"])

    def _extra_user_state(self, u: int) -> dict[str, Any]:
        ids = self._items.ids
        return {"history": [ids[i] for i in as_rows(self._hist[u]).tolist()]}

    def _load_extra_user_state(self, u: int, state: Any) -> None:
        buf = bytearray()
        for item in state["history"]:
            append_row(buf, self._item_row(item))
        self._hist[u] = buf

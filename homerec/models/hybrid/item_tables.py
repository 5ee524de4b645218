"""The hybrid's per-item state: embeddings, tags, co-occurrence, popularity, demographics.

Everything here is indexed by item row and can be shared by workers that split the
users between them (the user side is :mod:`~homerec.models.hybrid.user_tables`).

>>> items = ItemTables.empty(n_factors=2, tag_dims=4, cooc_capacity=3,
...                          pop_half_lives=(10.0, 100.0), max_groups=8)
>>> items.grow(2)
>>> items.set_tags(1, (0, 5))  # tag 5 shares dimension 1 with tag 1 (tag_dims 4)
>>> [round(float(x), 3) for x in items.T[1]]
[0.707, 0.707, 0.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from homerec.cooccurrence import CooccurrenceTable
from homerec.decay import DecayedCounts
from homerec.models.hybrid.demographics import Demographics
from homerec.models.storage import grow
from homerec.typing import FloatArray

__all__ = ["ItemTables"]


@dataclass(slots=True)
class ItemTables:
    """Per-item rows (capacity may exceed the items known; rows past them are unused).

    ``Q``, ``b``: embeddings and biases; ``T``: unit-norm tag vectors ``(rows,
    tag_dims)``; ``ratings``: ``(sum, count)`` of the item's ratings; ``cooc``: the
    bounded neighbour table; ``pop``, ``pop_slow``: decayed counts (short and long
    half-life); ``demo``: positives per profile group. ``tag_changes`` counts rewrites
    and reallocations of ``T`` (what a cache of tag-derived values is keyed by).
    """

    Q: FloatArray
    b: FloatArray
    T: FloatArray
    ratings: npt.NDArray[np.float64]
    cooc: CooccurrenceTable
    pop: DecayedCounts
    pop_slow: DecayedCounts
    demo: Demographics
    tag_changes: int = 0

    @classmethod
    def empty(
        cls,
        *,
        n_factors: int,
        tag_dims: int,
        cooc_capacity: int,
        pop_half_lives: tuple[float, float],
        max_groups: int,
    ) -> ItemTables:
        return cls(
            Q=np.zeros((0, n_factors), np.float32),
            b=np.zeros(0, np.float32),
            T=np.zeros((0, tag_dims), np.float32),
            ratings=np.zeros((0, 2), np.float64),
            cooc=CooccurrenceTable(cooc_capacity),
            pop=DecayedCounts(pop_half_lives[0]),
            pop_slow=DecayedCounts(pop_half_lives[1]),
            demo=Demographics.empty(max_groups),
        )

    def grow(self, capacity: int) -> None:
        """Make room for item rows ``0..capacity-1``."""
        if capacity > self.Q.shape[0]:
            self.Q = grow(self.Q, capacity)
            new = self.Q.shape[0]
            self.b = grow(self.b, new)
            self.ratings = grow(self.ratings, new)
            self.T = grow(self.T, new)
            self.tag_changes += 1
            self.demo.grow_items(new)
            self.cooc.ensure(new)
            self.pop.ensure(new)
            self.pop_slow.ensure(new)

    def set_tags(self, i: int, tags: Iterable[int]) -> None:
        """Item row ``i``'s tag vector from its tag ids (ids past ``tag_dims`` share
        dimensions), unit norm."""
        vec = np.zeros(self.T.shape[1], np.float32)
        for t in tags:
            vec[t % self.T.shape[1]] += 1.0
        norm = float(np.linalg.norm(vec))
        self.T[i] = vec / norm if norm > 0 else vec
        self.tag_changes += 1

    def tick(self) -> None:
        """One event on the popularity clocks."""
        self.pop.tick()
        self.pop_slow.tick()

    def add_event(self, i: int) -> None:
        """Count one event of item row ``i`` in both popularities."""
        self.pop.add(i)
        self.pop_slow.add(i)

    def add_rating(self, i: int, value: float) -> None:
        self.ratings[i, 0] += value
        self.ratings[i, 1] += 1.0

    # -- state --------------------------------------------------------------
    def state(self, n_items: int) -> dict[str, Any]:
        """The first ``n_items`` rows (copies), under the keys of the model's ``state_dict``."""
        return self._state(n_items, cooc=True)

    def _state(self, n_items: int, *, cooc: bool) -> dict[str, Any]:
        out = {
            "Q": self.Q[:n_items].copy(),
            "b": self.b[:n_items].copy(),
            "T": self.T[:n_items].copy(),
            **self.demo.state(n_items),
            "pop": self.pop.state(n_items),
            "pop_slow": self.pop_slow.state(n_items),
            "rat_i": self.ratings[:n_items].copy(),
        }
        if cooc:
            out["cooc"] = self.cooc.state(n_items)
        return out

    def delta_state(self, n_items: int) -> dict[str, Any]:
        """:meth:`state` with the co-occurrence table's changed rows only (the largest
        table: ``capacity`` slots per item; see :meth:`CooccurrenceTable.take_delta`)."""
        return {**self._state(n_items, cooc=False), "cooc": self.cooc.take_delta(n_items)}

    @classmethod
    def from_state(
        cls, state: Mapping[str, Any], n_items: int, *, n_factors: int, tag_dims: int,
        max_groups: int,
    ) -> ItemTables:  # fmt: skip
        """Inverse of :meth:`state`."""
        return cls(
            Q=np.array(state["Q"], np.float32).reshape(n_items, n_factors),
            b=np.array(state["b"], np.float32),
            T=np.array(state["T"], np.float32).reshape(n_items, tag_dims),
            ratings=np.array(state["rat_i"], np.float64).reshape(n_items, 2),
            cooc=CooccurrenceTable.from_state(dict(state["cooc"])),
            pop=DecayedCounts.from_state(dict(state["pop"])),
            pop_slow=DecayedCounts.from_state(dict(state["pop_slow"])),
            demo=Demographics.from_state(state, n_items, max_groups),
        )

    def record(self, i: int) -> dict[str, Any]:
        """Item row ``i`` as a changelog record."""
        return {"embedding": self.Q[i].copy(), "bias": float(self.b[i]),
                "ratings": self.ratings[i].tolist()}  # fmt: skip

    def load_record(self, i: int, state: Mapping[str, Any]) -> None:
        """Install :meth:`record` at row ``i``."""
        self.Q[i] = np.asarray(state["embedding"], np.float32)
        self.b[i] = float(state["bias"])
        self.ratings[i] = state.get("ratings", (0.0, 0.0))

"""All of the hybrid's learned tables as one typed object: user side, item side, shared.

:class:`HybridTables` is what :class:`~homerec.models.hybrid.model.Hybrid` learns
into and what its ``state_dict`` saves: each part writes and reads its own keys
(the format of the former single module, so old checkpoints load). The user side
and the item side are separate objects, so that the item side can be shared
between workers that split the users.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from homerec.models.hybrid.cold_start import ColdStartBlend
from homerec.models.hybrid.item_tables import ItemTables
from homerec.models.hybrid.user_tables import UserTables
from homerec.ranker import OnlineRanker
from homerec.typing import IntArray

__all__ = ["HybridTables", "SharedTables"]


@dataclass(slots=True)
class SharedTables:
    """What belongs to neither one user nor one item: the ranker's weights, the ring of
    recent event items that popular negatives are drawn from, the positives counted
    (the ranker steps on every ``ranker_every``-th), the overall rating sums and the
    validation of the first list's blend (:class:`ColdStartBlend`; each member of a
    group validates on its own users, it is not exchanged).

    >>> s = SharedTables.empty(OnlineRanker(2), sample_buffer=2)
    >>> for i in (4, 5, 6):
    ...     s.remember(i)
    >>> s.buffer.tolist(), s.recent_items()
    ([6, 5], 2)
    """

    ranker: OnlineRanker
    buffer: IntArray
    buf_n: int
    n_positive: int
    ratings: npt.NDArray[np.float64]
    cold: ColdStartBlend

    @classmethod
    def empty(cls, ranker: OnlineRanker, sample_buffer: int) -> SharedTables:
        return cls(
            ranker, np.full(sample_buffer, -1, np.int32), 0, 0, np.zeros(2, np.float64),
            ColdStartBlend.empty(),
        )  # fmt: skip

    def remember(self, i: int) -> None:
        """Item row ``i`` enters the ring of recent event items."""
        self.buffer[self.buf_n % len(self.buffer)] = i
        self.buf_n += 1

    def recent_items(self) -> int:
        """How many entries of :attr:`buffer` hold an item."""
        return min(self.buf_n, len(self.buffer))

    def add_rating(self, value: float) -> None:
        self.ratings[0] += value
        self.ratings[1] += 1.0

    def state(self) -> dict[str, Any]:
        return {
            "buffer": self.buffer.copy(),
            "buf_n": self.buf_n,
            "n_positive": self.n_positive,
            "rat_g": self.ratings.copy(),
            "ranker": self.ranker.state(),
            **self.cold.state(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> SharedTables:
        return cls(
            ranker=OnlineRanker.from_state(dict(state["ranker"])),
            buffer=np.array(state["buffer"], np.int32),
            buf_n=int(state["buf_n"]),
            n_positive=int(state["n_positive"]),
            ratings=np.array(state["rat_g"], np.float64),
            cold=ColdStartBlend.from_state(state),
        )


@dataclass(slots=True)
class HybridTables:
    """The hybrid's learned state: :class:`UserTables`, :class:`ItemTables` and
    :class:`SharedTables`."""

    users: UserTables
    items: ItemTables
    shared: SharedTables

    def state(self, n_users: int, n_items: int) -> dict[str, Any]:
        """The model-specific part of ``state_dict`` (arrays trimmed to the used rows)."""
        return {**self.users.state(n_users), **self.items.state(n_items), **self.shared.state()}

    @classmethod
    def from_state(
        cls, state: Mapping[str, Any], n_users: int, n_items: int, *, n_factors: int,
        tag_dims: int, max_groups: int,
    ) -> HybridTables:  # fmt: skip
        """Inverse of :meth:`state`."""
        return cls(
            UserTables.from_state(state, n_users, n_factors),
            ItemTables.from_state(
                state, n_items, n_factors=n_factors, tag_dims=tag_dims, max_groups=max_groups
            ),
            SharedTables.from_state(state),
        )

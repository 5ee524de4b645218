"""Positives per (profile group, item), kept as logs for the hybrid's ``demo`` planes.

A user profile's features become up to :data:`~homerec.models.hybrid.user_tables.GROUP_SLOTS`
group labels (``"age=30"``, ``"cluster=1"``); each positive of a grouped user adds
one to ``D[g, i]`` for each of the user's groups. The tables hold ``log(prior + D)``
(updated in place by :func:`homerec.kernels.add_group_positive`), so the demographic
lift is a gather and a mean. Item columns, group rows: part of the item side.

>>> demo = Demographics.empty(max_groups=4)
>>> demo.grow_items(3)
>>> demo.slots({"cluster": "1", "age": 34, "vip": True})
[0, 1, 2]
>>> list(demo.ids.ids)
['cluster=1', 'age=30', 'vip=True']
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from homerec.kernels import add_group_positive
from homerec.models.hybrid.user_tables import GROUP_SLOTS
from homerec.models.storage import IdIndex, grow
from homerec.typing import FloatArray

__all__ = ["DEMO_PRIOR", "Demographics"]

DEMO_PRIOR = 1.0  # additive prior of the demographic counts
_LOG_PRIOR = math.log(DEMO_PRIOR)


@dataclass(slots=True)
class Demographics:
    """``logD[g, i] = log(prior + positives of group g on item i)`` for the groups in use
    (rows allocated ahead), ``D_tot[g]`` the positives per group and ``logD_item[i] =
    log(prior + Σ_g D[g, i])``; ``ids`` maps group labels to rows (at most ``max_groups``)."""

    max_groups: int
    ids: IdIndex
    logD: FloatArray
    D_tot: npt.NDArray[np.float64]
    logD_item: FloatArray

    @classmethod
    def empty(cls, max_groups: int) -> Demographics:
        return cls(
            max_groups=max_groups,
            ids=IdIndex(),
            logD=np.zeros((0, 0), np.float32),
            D_tot=np.zeros(max_groups, np.float64),
            logD_item=np.zeros(0, np.float32),
        )

    def grow_items(self, capacity: int) -> None:
        """Item columns ``0..capacity-1`` (new ones at the prior)."""
        if capacity > self.logD.shape[1]:
            d = np.full((self.logD.shape[0], capacity), _LOG_PRIOR, np.float32)
            d[:, : self.logD.shape[1]] = self.logD
            self.logD = d
        self.logD_item = grow(self.logD_item, capacity, fill=_LOG_PRIOR)

    def group(self, label: str) -> int | None:
        """The row of group ``label``, added while there is room (None once full)."""
        g = self.ids.get(label)
        if g is None and len(self.ids) < self.max_groups:
            g = self.ids.add(label)
            rows = self.logD.shape[0]
            if g >= rows:
                more = min(self.max_groups, max(g + 1, 2 * rows, 8)) - rows
                pad = np.full((more, self.logD.shape[1]), _LOG_PRIOR, np.float32)
                self.logD = np.concatenate((self.logD, pad))
        return g

    def slots(self, features: Mapping[str, Any]) -> list[int]:
        """The group rows of a profile's features (numbers in buckets of ten), in the
        order given (:meth:`homerec.profiles.ProfileSchema.groups` puts them in slot
        order), at most :data:`GROUP_SLOTS`; features past the groups' room are left out."""
        out: list[int] = []
        for key, value in features.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                label = f"{key}={int(value // 10) * 10}"
            else:
                label = f"{key}={value}"
            g = self.group(label)
            if g is not None and len(out) < GROUP_SLOTS:
                out.append(g)
        return out

    def rows_of(self, labels: Iterable[str]) -> list[int]:
        """The rows of group ``labels`` (added as needed; ``-1`` past the room)."""
        return [-1 if (g := self.group(label)) is None else g for label in labels]

    def add_positive(self, slots: npt.NDArray[np.int16], i: int) -> None:
        """One positive of item ``i`` for each group in ``slots`` (``-1``: none)."""
        add_group_positive(self.logD, self.D_tot, self.logD_item, slots, i)

    def add_counts(
        self, groups: npt.NDArray[np.int64], items: npt.NDArray[np.int64],
        n: npt.NDArray[np.int32], item_rows: npt.NDArray[np.int64],
        item_n: npt.NDArray[np.float64],
    ) -> None:  # fmt: skip
        """Another replica's positives: ``n`` more at each ``(groups, items)`` pair (pairs
        unique) and ``item_n`` more at each of ``item_rows`` (unique) in ``logD_item``."""
        if len(groups):
            d = np.exp(self.logD[groups, items].astype(np.float64)) + n
            self.logD[groups, items] = np.log(d).astype(np.float32)
            np.add.at(self.D_tot, groups, n.astype(np.float64))
        if len(item_rows):
            d_item = np.exp(self.logD_item[item_rows].astype(np.float64)) + item_n
            self.logD_item[item_rows] = np.log(d_item).astype(np.float32)

    def total(self) -> float:
        """Positives counted over all groups."""
        return float(self.D_tot.sum())

    def state(self, n_items: int) -> dict[str, Any]:
        return {
            "group_ids": list(self.ids.ids),
            "logD": self.logD[:, :n_items].copy(),
            "D_tot": self.D_tot.copy(),
            "logD_item": self.logD_item[:n_items].copy(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], n_items: int, max_groups: int) -> Demographics:
        ids = IdIndex(state["group_ids"])
        logd = np.array(state["logD"], np.float32)
        if n_items:
            logd = logd.reshape(-1, n_items)
        else:  # no item columns: keep one (empty) row per known group
            logd = np.zeros((len(ids), 0), np.float32)
        if logd.shape[0] < len(ids):
            raise ValueError("fewer demographic rows than profile groups")
        return cls(
            max_groups=max_groups,
            ids=ids,
            logD=logd,
            D_tot=np.array(state["D_tot"], np.float64),
            logD_item=np.array(state["logD_item"], np.float32),
        )

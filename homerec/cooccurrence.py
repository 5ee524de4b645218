"""Bounded item-item co-occurrence counts: a fixed number of neighbour slots per item.

A dense ``items × items`` matrix does not fit 100,000 items, so each item keeps
its ``capacity`` strongest neighbours in two numpy tables (``ids``, ``counts``).
A pair not yet present takes the weakest slot of the row (the classic
space-saving replacement), so frequent pairs survive and rare ones churn.
Scoring a user's history is one gather plus one ``np.bincount``.

>>> t = CooccurrenceTable(capacity=2)
>>> t.ensure(4)
>>> t.add(np.array([0, 1]), 2, np.array([1.0, 1.0], np.float32))
>>> t.add(np.array([0]), 3, np.array([2.0], np.float32))
>>> t.scores(np.array([0]), np.array([1.0], np.float32), 4).tolist()
[0.0, 0.0, 1.0, 2.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from homerec.kernels import cooc_add_pairs
from homerec.models.storage import grow
from homerec.typing import AnyIntArray, FloatArray

__all__ = ["CooccurrenceTable"]


class CooccurrenceTable:
    """Directed weighted counts ``C[src, dst]``, at most ``capacity`` ``dst`` per ``src``."""

    __slots__ = ("capacity", "counts", "dirty", "ids")

    def __init__(self, capacity: int = 128) -> None:
        self.capacity = capacity
        self.ids = np.full((0, capacity), -1, np.int32)
        self.counts = np.zeros((0, capacity), np.float32)
        #: rows written since :meth:`take_delta` (a checkpoint delta carries only those)
        self.dirty = np.zeros(0, bool)

    def ensure(self, n_items: int) -> None:
        """Make room for item rows ``0..n_items-1``."""
        if n_items > self.ids.shape[0]:
            self.ids = grow(self.ids, n_items, fill=-1)
            self.counts = grow(self.counts, n_items)
            self.dirty = grow(self.dirty, self.ids.shape[0])

    def add(self, src: AnyIntArray, dst: int, weights: FloatArray) -> None:
        """``C[s, dst] += w`` for every ``s, w`` in ``zip(src, weights)`` (``src`` unique)."""
        if len(src) == 0:
            return
        self.dirty[src] = True
        rows = self.ids[src]
        match = rows == dst
        has = match.any(axis=1)
        slot = np.where(has, match.argmax(axis=1), self.counts[src].argmin(axis=1))
        old = np.where(has, self.counts[src, slot], 0.0)
        self.ids[src, slot] = dst
        self.counts[src, slot] = old + weights

    def add_row(self, src: int, dst: AnyIntArray, weights: FloatArray) -> None:
        """``C[src, d] += w`` for every ``d, w`` in ``zip(dst, weights)`` (``dst`` unique)."""
        if len(dst) == 0:
            return
        self.dirty[src] = True
        row = self.ids[src]
        match = dst[:, None] == row[None, :]
        has = match.any(axis=1)
        if has.any():
            self.counts[src, match[has].argmax(axis=1)] += weights[has]
        new = ~has
        n_new = int(new.sum())
        if n_new:
            counts = self.counts[src].copy()
            counts[match.any(axis=0)] = np.inf  # never evict a pair just updated
            n_new = min(n_new, self.capacity)
            if n_new < self.capacity:
                slots = np.argpartition(counts, n_new - 1)[:n_new]
            else:
                slots = np.arange(self.capacity)
            keep = np.flatnonzero(new)[:n_new]
            self.ids[src, slots] = dst[keep]
            self.counts[src, slots] = weights[keep]

    def add_pairs(self, src: AnyIntArray, dst: int, weights: FloatArray) -> None:
        """:meth:`add` then :meth:`add_row` of the same pairs (both directions), in one
        compiled call (:func:`homerec.kernels.cooc_add_pairs`): what an event costs the
        table. ``src`` unique and without ``dst``. Slots of equal count are evicted lowest
        first, where :meth:`add_row`'s ``argpartition`` picks any of them; beyond the
        row's capacity, new pairs are dropped rather than evicting pairs just updated."""
        if len(src):
            self.dirty[src] = True
            self.dirty[dst] = True
            cooc_add_pairs(
                self.ids, self.counts, np.ascontiguousarray(src, np.int32), int(dst),
                np.ascontiguousarray(weights, np.float32),
            )  # fmt: skip

    def add_many(self, src: AnyIntArray, dst: AnyIntArray, weights: FloatArray) -> None:
        """``C[s, d] += w`` for every triple (directed; pairs may repeat): another
        replica's increments. Present pairs are added to; new pairs take each row's
        weakest slots (empty first), never a slot updated by this call; a row's new
        pairs beyond its free slots are dropped (as :meth:`add_pairs` does).

        >>> t = CooccurrenceTable(capacity=2); t.ensure(3)
        >>> t.add_many(np.array([0, 0, 0]), np.array([1, 2, 1]), np.ones(3, np.float32))
        >>> t.row(0)
        {1: 2.0, 2: 1.0}
        """
        if len(src) == 0:
            return
        span = self.ids.shape[0] + 1
        keys, inv = np.unique(np.asarray(src, np.int64) * span + dst, return_inverse=True)
        w = np.bincount(inv.ravel(), weights=weights).astype(np.float32)
        s, d = keys // span, keys % span
        self.dirty[s] = True
        match = self.ids[s] == d[:, None]
        has = match.any(axis=1)
        slot = match.argmax(axis=1)
        self.counts[s[has], slot[has]] += w[has]
        new = ~has
        if not new.any():
            return
        s_new, d_new, w_new = s[new], d[new], w[new]  # sorted by row (keys are)
        rows, first, per_row = np.unique(s_new, return_index=True, return_counts=True)
        counts = self.counts[rows].astype(np.float64)
        s_has, slot_has = s[has], slot[has]
        where = np.minimum(np.searchsorted(rows, s_has), len(rows) - 1)
        same = rows[where] == s_has
        counts[where[same], slot_has[same]] = np.inf  # never evict a pair just updated
        order = np.argsort(counts, axis=1, kind="stable")
        room = np.isfinite(counts).sum(axis=1)
        r = np.repeat(np.arange(len(rows)), per_row)
        rank = np.arange(len(s_new)) - np.repeat(first, per_row)
        ok = rank < room[r]
        slots = order[r[ok], rank[ok]]
        self.ids[s_new[ok], slots] = d_new[ok]
        self.counts[s_new[ok], slots] = w_new[ok]

    def scores(self, src: AnyIntArray, weights: FloatArray, n_items: int) -> FloatArray:
        """``Σ_s w_s · C[s, ·]`` as a dense vector of ``n_items``."""
        if len(src) == 0:
            return np.zeros(n_items, np.float32)
        ids = self.ids[src].ravel() + 1  # empty slots (-1) land in bin 0, dropped below
        vals = (self.counts[src] * weights[:, None]).ravel()
        out = np.bincount(ids, weights=vals, minlength=n_items + 1)[1 : n_items + 1]
        return out.astype(np.float32)

    def scores_multi(self, src: AnyIntArray, weights: FloatArray, n_items: int) -> FloatArray:
        """:meth:`scores` for several weightings ``(k, len(src))`` of the same sources at once."""
        k = weights.shape[0]
        if len(src) == 0:
            return np.zeros((k, n_items), np.float32)
        # one bincount over k stacked copies of the gathered neighbour ids (k·(n+1) bins)
        ids = self.ids[src].ravel().astype(np.intp) + 1
        counts = self.counts[src].ravel()
        span = n_items + 1
        all_ids = (ids[None, :] + (np.arange(k) * span)[:, None]).ravel()
        vals = (weights.repeat(self.capacity, axis=1) * counts[None, :]).ravel()
        out = np.bincount(all_ids, weights=vals, minlength=k * span).reshape(k, span)
        return out[:, 1:].astype(np.float32)

    def sums_sparse(
        self, src: AnyIntArray, owner: AnyIntArray, weights: FloatArray, n_items: int
    ) -> tuple[AnyIntArray, AnyIntArray, npt.NDArray[np.float64]]:
        """:meth:`scores_multi` of several users at once, only where it is not zero.

        ``src`` are all users' history items end to end, ``owner`` the user (a small
        integer) each belongs to and ``weights`` ``(k, len(src))`` their weightings.
        Returns ``(users, items, sums)`` with ``sums`` of shape ``(k, nnz)``: the same
        float64 sums, added in the same order, as the dense vectors, at the
        ``(user, item)`` pairs that have a neighbour. Cheaper than dense vectors when
        histories are short (``len(src) · capacity`` well below ``users · n_items``).
        """
        ids = self.ids[src]
        ok = ids >= 0  # empty slots
        span = n_items + 1
        keys = (np.asarray(owner, np.int64) * span)[:, None] + ids
        pairs, inv = np.unique(keys[ok], return_inverse=True)
        counts = self.counts[src]
        sums = np.zeros((len(weights), len(pairs)))
        for j, w in enumerate(weights):
            sums[j] = np.bincount(inv, weights=(w[:, None] * counts)[ok], minlength=len(pairs))
        return pairs // span, pairs % span, sums

    def row(self, src: int) -> dict[int, float]:
        """The neighbours of one item (for tests and inspection)."""
        ok = self.ids[src] >= 0
        return dict(zip(self.ids[src][ok].tolist(), self.counts[src][ok].tolist(), strict=True))

    def state(self, n_items: int) -> dict[str, Any]:
        return {
            "capacity": self.capacity,
            "ids": self.ids[:n_items].copy(),
            "counts": self.counts[:n_items].copy(),
        }

    def take_delta(self, n_items: int) -> dict[str, Any]:
        """The rows written since the last take, as :meth:`state`'s keys plus ``n`` (the
        rows in all) and ``rows`` (which ones are given); :func:`homerec.models.deltas.
        apply_delta` merges it into a full state (rows not given: as before, or empty)."""
        rows = np.flatnonzero(self.dirty[:n_items])
        self.dirty[:] = False
        return {"capacity": self.capacity, "n": n_items, "rows": rows.astype(np.int64),
                "ids": self.ids[rows], "counts": self.counts[rows]}  # fmt: skip

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CooccurrenceTable:
        t = cls(int(state["capacity"]))
        t.ids = np.array(state["ids"], np.int32).reshape(-1, t.capacity)
        t.counts = np.array(state["counts"], np.float32).reshape(-1, t.capacity)
        t.dirty = np.zeros(len(t.ids), bool)
        return t

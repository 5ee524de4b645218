"""The hybrid's score, one implementation: a product of user factors and item factors.

The score of user ``u`` and item ``i`` is the ranker's linear form ``w·x + bias`` over
the feature planes (:mod:`~homerec.models.hybrid.planes`; their plain per-plane form
is :mod:`~homerec.models.hybrid.reference`). Regrouped, everything but co-occurrence
is one product ``[P | U | Ut | G](u) · [Q | scalars | tags | logD](i)``:

* ``P``, ``Q``: the embeddings, the user's scaled by the ``mf`` and per-factor weights;
* ``U``, ``scalars``: five item scalars (the item-only planes and the biases, the
  ``pop_fast`` of the cold-user plane, the overall part of the demo lift, ones, the
  ``pop_slow`` plane) and their per-user weights;
* ``Ut``, ``tags``: the user's unit tag profile against the items' tag vectors and
  tag vectors times item coldness (``content``, ``content_cold``, ``content_new``);
* ``G``, ``logD``: the profile groups' rows of the demographic logs.

A user with no event yet is scored by :mod:`~homerec.models.hybrid.cold_start`'s rule
instead (``pop_slow`` plus a validated share β of the demo lift), through the same product: their
``P`` and the weights of the first two scalars are zero, the fifth's is one.

The item factors (:class:`ItemSide`) depend on the model's version only and are
cached; the user factors (:class:`UserSide`) are built per block of users. The
co-occurrence planes are sparse and added after the product
(:func:`homerec.kernels.add_cooc_terms`, or :meth:`CoocWeights.term` at chosen
columns). :class:`Scorer` evaluates the product over every item (re-rank), at
chosen columns (:meth:`Scorer.product_at`, the candidate stage) or gives the item
factors' rows to the candidate index. The ranker's step computes the same features
at its columns in compiled code (:func:`homerec.kernels.ranker_grad`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from homerec.kernels import add_cooc_terms
from homerec.models.click_rates import ClickRates
from homerec.models.hybrid.demographics import DEMO_PRIOR
from homerec.models.hybrid.planes import N_PLANES, Plane, factor_weights, tag_weights
from homerec.models.hybrid.tables import HybridTables
from homerec.models.hybrid.user_tables import Histories
from homerec.typing import AnyIntArray, FloatArray, IndexArray, IntArray

__all__ = [
    "FUSED_MIN_ROWS", "Bookkeeping", "CoocWeights", "ItemSide", "Scorer", "UserSide",
    "item_terms", "unit_rows",
]  # fmt: skip

#: users in a re-rank block from which one product over a copied item matrix beats three
#: products over the item tables as they are, the copy made once per model version (10K
#: items, a new version before each re-rank, median µs per user: 32 users 80 copied vs 67
#: not, 64: 51 vs 53, 128: 42 vs 48, 256: 38 vs 46); a copy already made is always used
FUSED_MIN_ROWS = 64


@dataclass(frozen=True, slots=True)
class Bookkeeping:
    """What the score reads of the base model's bookkeeping, as of one model version:
    the version (caches are keyed by it), the items and tags known, the events per item
    row and per user row, and the items' exposure and clicks on pages."""

    version: int
    n_items: int
    n_tags: int
    item_count: FloatArray
    user_events: IndexArray
    rates: ClickRates


@dataclass(frozen=True, slots=True)
class ItemSide:
    """The item factors of one model version (see the module docstring): ``scalars``
    (5 × items), ``tags`` (items × 2·tags in use), ``1/sqrt(count + 1)`` per item and
    ``log(D_g + a·n)`` per group (None without demographic counts)."""

    scalars: FloatArray
    tags: FloatArray
    inv_sqrt: FloatArray
    demo_norm: npt.NDArray[np.float64] | None


@dataclass(frozen=True, slots=True)
class UserSide:
    """User factors of a block of users, the plane weights and the item side they pair
    with, and the histories whose co-occurrence terms are added to the products."""

    P: FloatArray  # embeddings, weighted (B, n_factors)
    U: FloatArray  # weights of the five item scalars (B, 5)
    Ut: FloatArray  # weights of the tag block (B, 2 * tags in use)
    G: FloatArray  # weights of the profile-group rows of logD (B, groups in use)
    histories: Histories
    wf: list[float]  # the ranker's plane weights, by Plane
    items: ItemSide

    def blocks(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """``(P, U, Ut, G)``: pair with :meth:`Scorer.item_blocks`, block by block."""
        return self.P, self.U, self.Ut, self.G

    def matrix(self) -> FloatArray:
        """``[P | U | Ut | G]``: pairs with :meth:`Scorer.fused_items`."""
        out: FloatArray = np.concatenate(self.blocks(), axis=1)
        return out


@dataclass(frozen=True, slots=True)
class CoocWeights:
    """Weights of the three co-occurrence planes in the score, per item where they are
    normalised by ``1/sqrt(count + 1)``."""

    cooc: FloatArray
    recent: FloatArray
    log: np.float32

    @classmethod
    def of(cls, wf: list[float], inv_sqrt: FloatArray) -> CoocWeights:
        return cls(
            np.float32(wf[Plane.COOC]) * inv_sqrt,
            np.float32(wf[Plane.COOC_RECENT]) * inv_sqrt,
            np.float32(wf[Plane.COOC_LOG]),
        )

    def term(self, at: AnyIntArray, c0: FloatArray, c1: FloatArray) -> FloatArray:
        """The planes' score at items ``at`` from the long (``c0``) and the recent (``c1``)
        co-occurrence sums there."""
        out: FloatArray = self.cooc[at] * c0 + self.recent[at] * c1 + self.log * np.log1p(c0)
        return out


def item_terms(
    tables: HybridTables, item_count: FloatArray, cold_scale: float, n: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], FloatArray]:
    """The item-only planes of the first ``n`` items: ``pop_fast``, ``pop_slow`` (float64)
    and ``item_cold``."""
    items = tables.items
    pop_f = np.log1p(np.maximum(items.pop.values(n), 1e-30))
    pop_s = np.log1p(np.maximum(items.pop_slow.values(n), 1e-30))
    # clipped so no float32 denormals appear (they make every later product crawl)
    item_cold: FloatArray = np.exp(-np.minimum(item_count[:n] / cold_scale, 60.0))
    return pop_f, pop_s, item_cold


def unit_rows(x: FloatArray) -> FloatArray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norm = np.sqrt((x * x).sum(axis=1, keepdims=True))
    out: FloatArray = np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
    return out


class Scorer:
    """Scores of users against items (see the module docstring), with the item side
    cached per model version and the compiled co-occurrence kernel's scratch.

    ``long_pows``, ``recent_pows``: the recency weights of a history's positions (its
    length is the history scored); ``cold_scale``: events after which a user or item
    counts as warm; ``rate_prior``: pseudo-clicks behind each item's click rate.
    """

    def __init__(
        self, *, n_factors: int, cold_scale: float, long_pows: FloatArray, recent_pows: FloatArray,
        rate_prior: float,
    ) -> None:  # fmt: skip
        self.n_factors = n_factors
        self.cold_scale = cold_scale
        self.rate_prior = rate_prior
        self.long_pows = long_pows
        self.recent_pows = recent_pows
        self.reset()

    def reset(self) -> None:
        """Forget every cached item side (the tables were replaced)."""
        self._items_key: tuple[int, int] | None = None
        self._items: ItemSide | None = None
        # the tag block of the products, updated in place (see item_side)
        self._V: FloatArray | None = None
        self._V_counts = np.zeros(0, np.float32)
        self._V_key: tuple[int, int, int] | None = None
        self._fused: FloatArray | None = None
        self._fused_key: tuple[int, int, int] | None = None
        # scratch of the co-occurrence terms' kernel (zeros between calls)
        self._cooc_acc = np.zeros((2, 0))
        self._cooc_touched = np.zeros(0, np.int64)

    @property
    def scratch_is_clear(self) -> bool:
        """The co-occurrence kernel handed its scratch back zeroed (for tests)."""
        return not self._cooc_acc.any()

    # -- item side --------------------------------------------------------
    def item_side(self, tables: HybridTables, book: Bookkeeping) -> ItemSide:
        """The item factors of this version (cached). ``tags`` is kept between versions:
        tag vectors change only with the catalog and ``item_cold`` only for items whose
        count moved, and rebuilding it made most of a small batch's re-rank."""
        n = book.n_items
        key = (book.version, n)
        if self._items_key == key and self._items is not None:
            return self._items
        items, ranker = tables.items, tables.shared.ranker
        w = ranker.w.astype(np.float32)
        d = self.n_factors
        T, demo = items.T, items.demo
        # only the tag columns that some tag maps to: the others are zero in every item
        # (a catalog of 30 tags uses 30 of the 64 default dimensions)
        t = min(T.shape[1], book.n_tags)
        wf = [float(x) for x in w[:N_PLANES]]
        pop_f, pop_s, item_cold = (
            x.astype(np.float32) for x in item_terms(tables, book.item_count, self.cold_scale, n)
        )
        counts = book.item_count[:n]
        inv_sqrt = (1.0 / np.sqrt(counts + 1.0)).astype(np.float32)
        tot = demo.total()
        tags_key = (n, items.tag_changes, t)
        if self._V is None or self._V_key != tags_key:
            self._V = np.empty((n, 2 * t), np.float32)
            self._V[:, :t] = T[:n, :t]
            self._V[:, t:] = T[:n, :t] * item_cold[:, None]
            self._V_counts = counts.copy()
            self._V_key = tags_key
        else:
            moved = np.flatnonzero(counts != self._V_counts)
            if len(moved):
                self._V[moved, t:] = T[moved, :t] * item_cold[moved, None]
                self._V_counts[moved] = counts[moved]
        scalars = np.empty((5, n), np.float32)
        scalars[0] = (
            wf[Plane.POP_FAST] * pop_f + wf[Plane.POP_SLOW] * pop_s
            + wf[Plane.ITEM_COLD] * item_cold + wf[Plane.MF] * items.b[:n]
            + T[:n] @ w[tag_weights(d)] + np.float32(ranker.bias)
        )  # fmt: skip
        if wf[Plane.ITEM_RATE] != 0.0:
            scalars[0] += wf[Plane.ITEM_RATE] * book.rates.lift(n, self.rate_prior)
        scalars[1] = pop_f
        demo_norm: npt.NDArray[np.float64] | None = None
        if tot > 0:
            # the overall term of the demo lift
            scalars[2] = demo.logD_item[:n] - math.log(tot + DEMO_PRIOR * n)
            scalars[3] = 1.0
            demo_norm = np.log(demo.D_tot + DEMO_PRIOR * n)
        else:
            scalars[2:4] = 0.0
        scalars[4] = pop_s  # the first list of a user with no event (cold_start)
        self._items = ItemSide(scalars, self._V, inv_sqrt, demo_norm)
        self._items_key = key
        return self._items

    def fused_items(
        self, tables: HybridTables, book: Bookkeeping, side: ItemSide, *, keep: bool = True
    ) -> FloatArray:
        """``[Q | scalars.T | tags | logD.T]`` (items × columns) for the one-product
        evaluation, built once per model version (``keep=False``: a copy that is not
        kept, for the candidate index's snapshot)."""
        key = self._fused_version(tables, book)
        if self._fused is not None and self._fused_key == key:
            return self._fused
        V = self.fused_rows(tables, side, 0, book.n_items)
        if keep:
            self._fused, self._fused_key = V, key
        return V

    def _fused_version(self, tables: HybridTables, book: Bookkeeping) -> tuple[int, int, int]:
        """What :meth:`fused_items` is built for: model version, items, profile groups."""
        return (book.version, book.n_items, len(tables.items.demo.ids))

    def fused_rows(self, tables: HybridTables, side: ItemSide, lo: int, hi: int) -> FloatArray:
        """Rows ``lo..hi-1`` of :meth:`fused_items` (a new array)."""
        V: FloatArray = np.concatenate([b[lo:hi] for b in self.item_blocks(tables, side)], axis=1)
        return V

    @staticmethod
    def item_blocks(
        tables: HybridTables, side: ItemSide
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """The item factors, block by block (items × columns each, views; rows past the
        items known may follow): ``Q``, ``scalars.T``, ``tags`` and ``logD.T`` of the
        profile groups in use. The one definition of the product's item side."""
        items = tables.items
        logd = items.demo.logD[: len(items.demo.ids)]
        return items.Q, side.scalars.T, side.tags, logd.T

    # -- user side --------------------------------------------------------
    def user_side(self, tables: HybridTables, book: Bookkeeping, rows: IntArray) -> UserSide:
        """The user factors of user ``rows`` (``-1``: unknown) and the item side they pair
        with, plus the histories whose co-occurrence terms are added afterwards."""
        users, items = tables.users, tables.items
        B = len(rows)
        d = self.n_factors
        w = tables.shared.ranker.w.astype(np.float32)
        wf = [float(x) for x in w[:N_PLANES]]
        item_side = self.item_side(tables, book)
        known = rows >= 0
        P = np.zeros((B, d), np.float32)
        n_ev = np.zeros(B, np.float32)
        if known.any():
            P[known] = users.P[rows[known]]
            n_ev[known] = book.user_events[rows[known]]
        user_cold = np.exp(-np.minimum(n_ev / self.cold_scale, 60.0)).astype(np.float32)
        P *= wf[Plane.MF] + w[factor_weights(d)]
        U = np.zeros((B, 5), np.float32)  # weights of the item scalars, per user
        U[:, 0] = 1.0
        U[:, 1] = wf[Plane.POP_COLD] * user_cold
        demo_w = (wf[Plane.DEMO] + wf[Plane.DEMO_COLD] * user_cold).astype(np.float32)
        # no event yet: the cold-start rule, pop_slow + β·demo (cold_start)
        fresh = n_ev == 0
        P[fresh] = 0.0
        U[fresh] = (0.0, 0.0, 0.0, 0.0, 1.0)
        demo_w[fresh] = tables.shared.cold.beta
        t = item_side.tags.shape[1] // 2  # tag columns in use (see item_side)
        prof = np.zeros((B, t), np.float32)
        hist = users.block_histories(rows, self.long_pows, self.recent_pows)
        if len(hist):
            # Σ_h w_h T[h] per history: one gather, one segmented sum
            part = hist.weights[:, None] * items.T[hist.items, :t]
            prof[hist.rows] = np.add.reduceat(part, hist.starts[:-1], axis=0)
        demo = items.demo
        G = np.zeros((B, len(demo.ids)), np.float32)  # weights of logD's group rows
        if item_side.demo_norm is not None and known.any():
            # demo lift = mean_g logD[g] - mean_g log(D_g + a·n) - base: all three terms
            # are products (the first one with the logD rows of the user's groups)
            at = np.flatnonzero(known)
            gr = users.groups[rows[at]]
            valid = gr >= 0
            n_gr = valid.sum(axis=1)
            has = n_gr > 0
            at, gr, valid, n_gr = at[has], gr[has], valid[has], n_gr[has]
            dw = demo_w[at]
            norm_sum = np.where(valid, item_side.demo_norm[np.maximum(gr, 0)], 0.0).sum(axis=1)
            U[at, 2] = -dw
            U[at, 3] = -dw * (norm_sum / n_gr)
            who, slot = np.nonzero(valid)
            np.add.at(G, (at[who], gr[who, slot]), (dw / n_gr)[who])
        Ut = np.zeros((B, 2 * t), np.float32)
        if prof.any():
            unit = unit_rows(prof)
            Ut[:, :t] = unit * (wf[Plane.CONTENT] + wf[Plane.CONTENT_COLD] * user_cold)[:, None]
            Ut[:, t:] = unit * wf[Plane.CONTENT_NEW]
        return UserSide(P, U, Ut, G, hist, wf, item_side)

    # -- scores -----------------------------------------------------------
    def scores(self, tables: HybridTables, book: Bookkeeping, rows: IntArray) -> FloatArray:
        """Scores ``(len(rows), n_items)`` of user ``rows`` (``-1``: unknown) for every item.

        With a block of at least :data:`FUSED_MIN_ROWS` users, or when this version's
        copied item matrix exists already, one product over it; else one product per
        block over the item tables as they are (the same sums, grouped otherwise). Then the
        histories' co-occurrence terms are added (:meth:`add_cooc_terms`).
        """
        n = book.n_items
        side = self.user_side(tables, book, rows)
        S: FloatArray
        if len(rows) >= FUSED_MIN_ROWS or self._has_fused(tables, book):
            # one product over all columns: copying the item side into one matrix (per
            # version) pays off over many users, and the score is written once
            S = side.matrix() @ self.fused_items(tables, book, side.items).T
        else:  # a product per block, over the item tables as they are
            (P, *users), (Q, *items) = side.blocks(), self.item_blocks(tables, side.items)
            S = P @ Q[:n].T
            for u, i in zip(users, items, strict=True):
                if u.any():  # (U never is all zero: its first column is ones)
                    S += u @ i[:n].T
        if len(side.histories):
            self.add_cooc_terms(tables, book, S, side)
        return S

    def _has_fused(self, tables: HybridTables, book: Bookkeeping) -> bool:
        """:meth:`fused_items` of this version and catalog is built already."""
        return self._fused is not None and self._fused_key == self._fused_version(tables, book)

    def product_at(self, tables: HybridTables, side: UserSide, at: IndexArray) -> FloatArray:
        """The product part of the scores at item columns ``at`` (one row of columns per
        user of ``side``, all valid rows): everything but co-occurrence."""
        items = side.items
        S: FloatArray = np.einsum("bd,bcd->bc", side.P, tables.items.Q[at])
        S += np.einsum("fb,fbc->bc", side.U.T, items.scalars[:, at])
        if side.Ut.any():
            S += np.einsum("bt,bct->bc", side.Ut, items.tags[at])
        if side.G.any():
            logd = tables.items.demo.logD[: side.G.shape[1]]
            S += np.einsum("bg,gbc->bc", side.G, logd[:, at])
        return S

    def add_cooc_terms(
        self, tables: HybridTables, book: Bookkeeping, S: FloatArray, side: UserSide
    ) -> None:
        """Add the co-occurrence planes (``cooc``, ``cooc_log``, ``cooc_recent``) of the
        block's histories to its score rows ``S`` (every item): one compiled call
        (:func:`homerec.kernels.add_cooc_terms`) that scans each history's neighbour slots
        once, whatever the history's length or the catalog's size."""
        n = S.shape[1]
        hist, cooc = side.histories, tables.items.cooc
        weights = CoocWeights.of(side.wf, side.items.inv_sqrt)
        if self._cooc_acc.shape[1] < n:
            self._cooc_acc = np.zeros((2, max(n, 2 * self._cooc_acc.shape[1])))
        # compiled code checks no bounds: room for every slot of the longest history
        need = int(np.diff(hist.starts).max()) * cooc.ids.shape[1]
        if len(self._cooc_touched) < need:
            self._cooc_touched = np.zeros(need, np.int64)
        add_cooc_terms(
            S, hist.rows, hist.starts, hist.items, hist.weights, hist.recent,
            cooc.ids, cooc.counts, book.item_count,
            weights.cooc, weights.recent, float(weights.log),
            self._cooc_acc, self._cooc_touched,
        )  # fmt: skip

    def cooc_sums(
        self, tables: HybridTables, book: Bookkeeping, h: IntArray, w: FloatArray
    ) -> FloatArray:
        """Co-occurrence of every item with history rows ``h`` of recency weights ``w``: row
        0 the long memory, row 1 the recent one, each history item normalised by
        ``1/sqrt(count + 1)`` (dense: for long histories)."""
        norm_h = 1.0 / np.sqrt(book.item_count[h] + 1.0)
        both = np.stack((w * norm_h, self.recent_pows[: len(h)] * norm_h))
        return tables.items.cooc.scores_multi(h, both, book.n_items)

    def cooc_sums_sparse(
        self, tables: HybridTables, book: Bookkeeping, hist: Histories,
        short: npt.NDArray[np.bool_],
    ) -> tuple[IndexArray, IndexArray, npt.NDArray[np.float64]]:  # fmt: skip
        """:meth:`~homerec.cooccurrence.CooccurrenceTable.sums_sparse` of the ``short``
        histories of ``hist``: ``(number among them, item, sums)`` for the long and the
        recent memory."""
        lengths = np.diff(hist.starts)
        mine = np.repeat(short, lengths)  # the short histories' entries
        src = hist.items[mine]
        owner = np.repeat(np.arange(int(short.sum())), lengths[short])
        norm_h = 1.0 / np.sqrt(book.item_count[src] + 1.0)
        both = np.stack((hist.weights[mine] * norm_h, hist.recent[mine] * norm_h))
        return tables.items.cooc.sums_sparse(src, owner, both, book.n_items)

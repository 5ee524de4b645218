"""The hybrid's per-event learning steps, in the order an event applies them.

0. for a positive of a user with a profile and fewer than ``cold_scale`` events, a
   validation case of the first list's blend
   (:class:`~homerec.models.hybrid.cold_start.ColdStartBlend`), with the state *before*
   the event;
1. the **online ranker** (:class:`~homerec.ranker.OnlineRanker`): a sampled-softmax
   step that lifts the event's item above up to ``ranker_sample`` candidates, over the
   feature planes computed with the state *before* the event (one compiled call,
   :func:`homerec.kernels.ranker_grad`);
2. **collaborative embeddings** ``P[u]``, ``Q[i]``, ``b[i]``: a BPR step against
   ``n_negatives`` sampled items (:func:`homerec.kernels.bpr_step`); negative feedback
   pushes ``P[u]·Q[i]`` down;
3. **co-occurrence** of the item with the user's recent history;
4. **time-decayed popularity** and per-demographic-group counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from homerec.kernels import bpr_step, cold_start_ranks, ranker_columns, ranker_grad
from homerec.models.hybrid.cold_start import BETA_VALUES
from homerec.models.hybrid.demographics import DEMO_PRIOR
from homerec.models.hybrid.scoring import Bookkeeping
from homerec.models.hybrid.tables import HybridTables
from homerec.models.storage import as_rows
from homerec.typing import FloatArray, IndexArray, IntArray

__all__ = ["Eligible", "Learner"]

_NO_ROWS = np.zeros(0, np.int32)
_NO_DRAWS = np.zeros(0, np.float64)  # ranker_columns: every item, no sampling


@dataclass(frozen=True, slots=True)
class Eligible:
    """The base model's candidate rule, for the ranker's columns: items ``seen`` (or in
    the ``catalog`` with ``use_catalog``) and ``active``, minus each user's
    ``user_items``."""

    seen: npt.NDArray[np.bool_]
    catalog: npt.NDArray[np.bool_]
    active: npt.NDArray[np.bool_]
    use_catalog: bool
    user_items: list[bytearray]
    #: The items the user was last shown (the page this model published, or the
    #: impressions reported since), when the event's item is among them: the items the
    #: user passed over on it join the ranker's candidates, and the embeddings learn
    #: them as negatives (``page_negatives``).
    shown: IndexArray | None = None


@dataclass(slots=True)
class Learner:
    """The per-event steps with their hyperparameters (see
    :class:`~homerec.models.hybrid.model.Hybrid`) and the ranker kernel's scratch.

    ``long_pows``, ``recent_pows``: the history's recency weights (``history_length``
    long); ``cooc_pows``: the co-occurrence update's (``cooc_window`` long).
    """

    lr: float
    reg: float
    n_negatives: int
    popular_negatives: float
    negative_weight: float
    weighted_positives: bool
    history_length: int
    history_min_weight: float
    cold_scale: float
    ranker_every: int
    ranker_sample: int
    rate_prior: float
    long_pows: FloatArray
    recent_pows: FloatArray
    cooc_pows: FloatArray
    # scratch of ranker_grad (always zeros)
    slot: IntArray = field(default_factory=lambda: np.zeros(0, np.int32))

    def learn(
        self, tables: HybridTables, book: Bookkeeping, rng: np.random.Generator,
        eligible: Eligible, u: int, i: int, weight: float, rating: float | None,
    ) -> None:  # fmt: skip
        """One event of user row ``u`` on item row ``i`` with signed feedback ``weight``
        (``rating``: its value if it is a rating), the tables as they were when it was
        ranked."""
        users, items, shared = tables.users, tables.items, tables.shared
        if rating is not None:
            users.add_rating(u, rating)
            items.add_rating(i, rating)
            shared.add_rating(rating)
        items.tick()
        if weight > 0:
            if book.user_events[u] < self.cold_scale:
                self.validate_cold_start(tables, book, eligible, u, i)
            shared.n_positive += 1
            if shared.n_positive % self.ranker_every == 0:
                self.ranker_step(tables, book, rng, eligible, u, i, weight)
            self.bpr(tables, book, rng, u, i, weight)
        elif weight < 0 and self.negative_weight > 0:
            self.push_down(tables, u, i, -weight * self.negative_weight)
        if weight >= self.history_min_weight:
            h = users.history(u, len(self.cooc_pows))
            if len(h):
                keep = h != i
                items.cooc.add_pairs(h[keep], i, self.cooc_pows[: len(h)][keep])
            users.push_history(u, i, self.history_length)
            items.add_event(i)
            shared.remember(i)
            if weight > 0:
                items.demo.add_positive(users.groups[u], i)

    def step_weight(self, weight: float) -> float:
        """How strongly a positive of feedback ``weight`` moves the ranker and the embeddings."""
        return min(weight, 2.0) if self.weighted_positives else 1.0

    # -- the first list's blend ------------------------------------------
    def validate_cold_start(
        self, tables: HybridTables, book: Bookkeeping, eligible: Eligible, u: int, pos: int
    ) -> None:
        """A validation case of :class:`~homerec.models.hybrid.cold_start.ColdStartBlend`:
        where each candidate ``β`` would have ranked ``pos`` for user row ``u`` (with
        profile groups; others are skipped, the lift being zero for them) among the
        user's candidates, as the tables are before the event."""
        items, blend = tables.items, tables.shared.cold
        demo = items.demo
        groups = tables.users.groups[u]
        groups = groups[groups >= 0]
        if not len(groups) or demo.total() <= 0 or not eligible.seen[pos]:
            return
        looked = blend.columns(book.n_items)
        cols = np.concatenate(([pos], looked))
        # elementwise, so the values at the candidates are those of a gather of them alone
        pop_slow = np.log1p(np.maximum(items.pop_slow.values_at(cols), 1e-30))
        mine = as_rows(eligible.user_items[u]) if eligible.user_items[u] else _NO_ROWS
        allowed = eligible.catalog if eligible.use_catalog else eligible.seen
        above = np.empty(len(BETA_VALUES), np.int64)
        # the candidates, the lift and the counts of ColdStartBlend.validate, compiled
        cold_start_ranks(
            cols, pop_slow, eligible.active, allowed, mine, groups, demo.logD,
            demo.logD_item, BETA_VALUES, above,
        )  # fmt: skip
        blend.add_ranks(above, book.n_items / len(looked))

    # -- ranker -----------------------------------------------------------
    def ranker_step(
        self, tables: HybridTables, book: Bookkeeping, rng: np.random.Generator,
        eligible: Eligible, u: int, pos: int, weight: float,
    ) -> None:  # fmt: skip
        """Softmax step: the event's item against the other candidates of this user.

        Taken before the event is learned: the features must not already contain it.
        Up to ``ranker_sample`` items the softmax is over every candidate (exact); beyond,
        over the positive and the candidates among ``ranker_sample - 1`` items drawn
        uniformly with replacement (sampled softmax: a uniform proposal needs no
        log-probability correction), so the step's cost stops growing with the catalog.
        """
        cols = self.ranker_columns(book, rng, eligible, u, pos)
        if eligible.shown is not None:
            # a click on a page: the items above it and the one after it were looked at
            # and passed over (a cascade of examination; lower ones most likely were not,
            # and counting them would teach the ranker the page's own order). They join
            # the candidates, so the click is lifted above both. The page alone is not
            # enough: its items were all chosen by the ranker, and within such a
            # selection the planes that put them there look useless or harmful (the
            # ranker learnt negative weights for them), while the re-rank ranks every
            # candidate
            page = eligible.shown
            at = int(np.flatnonzero(page == pos)[0])
            others = np.concatenate((page[:at], page[at + 1 : at + 2]))
            if eligible.user_items[u]:
                others = others[~np.isin(others, as_rows(eligible.user_items[u]))]
            cols = np.concatenate((cols[:1], others, cols[1:])).astype(np.int64)
        if len(cols) > 1:
            grad = self.ranker_grad(tables, book, u, cols)
            tables.shared.ranker.step(self.step_weight(weight) * grad)

    def ranker_columns(
        self, book: Bookkeeping, rng: np.random.Generator, eligible: Eligible, u: int, pos: int
    ) -> IndexArray:
        """The softmax's items for a step of user row ``u`` on ``pos`` (``pos`` first)."""
        n = book.n_items
        # no draws: the exact softmax over every candidate
        uniform = _NO_DRAWS if n <= self.ranker_sample else rng.random(self.ranker_sample - 1)
        mine = as_rows(eligible.user_items[u]) if eligible.user_items[u] else _NO_ROWS
        cols: IndexArray = ranker_columns(
            uniform, n, pos, eligible.seen, eligible.catalog, eligible.active,
            eligible.use_catalog, mine,
        )  # fmt: skip
        return cols

    def ranker_grad(
        self, tables: HybridTables, book: Bookkeeping, u: int, cols: IndexArray
    ) -> npt.NDArray[np.float64]:
        """Gradient of ``-log softmax(w·x)[0]`` over the items ``cols`` for user row ``u``
        (``x``: the features), computed at those columns only."""
        users, items, ranker = tables.users, tables.items, tables.shared.ranker
        n = book.n_items
        if len(self.slot) < n:
            self.slot = np.zeros(max(n, 2 * len(self.slot)), np.int32)
        h = users.history(u, self.history_length)
        groups = users.groups[u]
        fast, fast_scale = items.pop.raw()
        slow, slow_scale = items.pop_slow.raw()
        demo = items.demo
        rates = book.rates
        grad: npt.NDArray[np.float64] = ranker_grad(
            cols, users.P[u], items.Q, items.b, items.T,
            fast, fast_scale, slow, slow_scale, book.item_count, self.cold_scale,
            float(book.user_events[u]),
            np.ascontiguousarray(h), self.long_pows[: len(h)], self.recent_pows[: len(h)],
            items.cooc.ids, items.cooc.counts, groups[groups >= 0],
            demo.logD, demo.logD_item, demo.D_tot, DEMO_PRIOR, n,
            rates.clicks, rates.shown, rates.rate, self.rate_prior,
            ranker.w, ranker.bias, self.slot,
        )  # fmt: skip
        return grad

    # -- embeddings -------------------------------------------------------
    def bpr(
        self, tables: HybridTables, book: Bookkeeping, rng: np.random.Generator, u: int, i: int,
        weight: float,
    ) -> None:  # fmt: skip
        """One BPR step of ``P[u]``, ``Q[i]``, ``b[i]`` against ``n_negatives`` sampled items:
        a ``popular_negatives`` share drawn from the recent events' items, the rest
        uniformly; the positive itself is skipped."""
        shared, items = tables.shared, tables.items
        k = self.n_negatives
        n_pop = int(round(k * self.popular_negatives)) if shared.buf_n else 0
        # one generator call for both kinds (a call costs more than the maths)
        bpr_step(
            tables.users.P, items.Q, items.b, u, i, rng.random(k), book.n_items, n_pop,
            shared.buffer, shared.recent_items(), self.lr * self.step_weight(weight), self.reg,
        )  # fmt: skip

    def push_down(self, tables: HybridTables, u: int, i: int, weight: float) -> None:
        """Negative feedback: a logistic step pushing ``P[u]·Q[i] + b[i]`` down."""
        P, Q, b = tables.users.P, tables.items.Q, tables.items.b
        lr, reg = self.lr * weight, self.reg
        p = P[u].copy()
        q = Q[i].copy()
        s = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, float(p @ q + b[i])))))
        P[u] -= lr * (s * q + reg * p)
        Q[i] -= lr * (s * p + reg * q)
        b[i] -= lr * s

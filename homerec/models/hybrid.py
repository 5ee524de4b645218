"""homerec's default model: an online hybrid of collaborative, sequential, popular and content signals.

Every event updates, in this order (numpy, with the two per-event steps compiled in
:mod:`homerec.kernels`; O(history + sampled items) per event):

1. the **online ranker** (:class:`~homerec.ranker.OnlineRanker`): a sampled-softmax
   step that lifts the event's item above up to ``ranker_sample`` candidates, over
   the feature planes below computed with the state *before* the event — the
   same state the item was ranked with;
2. **collaborative embeddings** ``P[u]``, ``Q[i]``, ``b[i]``: a BPR step against
   ``n_negatives`` sampled items (negative feedback pushes ``P[u]·Q[i]`` down);
3. **co-occurrence** of the item with the user's recent history (bounded
   neighbour table, :class:`~homerec.cooccurrence.CooccurrenceTable`);
4. **time-decayed popularity** (two half-lives, on the event clock) and
   per-demographic-group counts.

A score is the ranker's linear form ``w·x + b`` over these planes, which is the
seed's ``σ(W·[e_u; c_i; e_u⊙e_i] + b)`` before the (monotone) sigmoid:

======================  =====================================================
plane                   meaning
======================  =====================================================
``cooc``                Σ_h γ^age(h) C[h, i] / √((n_h + 1)(n_i + 1)): cosine co-occurrence
                        with the recent history h, newest weighing most
``cooc_log``            log1p Σ_h γ^age(h) C[h, i] / √(n_h + 1) (keeps popular neighbours)
``mf``                  P[u]·Q[i] + b[i]
``pop_fast/pop_slow``   log1p of decayed item counts (short / long half-life)
``content``             cosine of the user's recent tag profile and item tags
``demo``                log lift of the item among the user's profile groups
``*_cold``              ``pop_fast``, ``demo``, ``content`` × user coldness
``content_new``         ``content`` × item coldness (new catalog items)
``item_cold``           item coldness ``exp(-count_i / cold_scale)``
``cooc_recent``         ``cooc`` with a short memory (``recent_decay``): the current session
``e_u⊙e_i`` (d)         per-factor weights of the embedding product
``c_i`` (tags)          per-tag item bias
======================  =====================================================

Business rules come from :class:`~homerec.models.indexed.IndexedRecommender`:
consumed items and inactive items are never shown; ``max_tag_share`` caps one
tag's share of a page.

>>> from homerec.events import Event
>>> m = Hybrid(n_factors=4, seed=1)
>>> m.learn_many([Event("u1", "a", "click", 10**12), Event("u1", "b", "click", 10**12),
...               Event("u2", "a", "click", 10**12)])
>>> [item for item, _ in m.recommend("u2", 2)]
['b']
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from homerec.candidates import AnnCandidates
from homerec.cooccurrence import CooccurrenceTable
from homerec.decay import DecayedCounts
from homerec.errors import ConfigError
from homerec.events import Event
from homerec.feedback import FeedbackWeights
from homerec.items import Item
from homerec.kernels import (
    add_cooc_terms,
    add_group_positive,
    bpr_step,
    ranker_columns,
    ranker_grad,
)
from homerec.models import hybrid_state as _state
from homerec.models.indexed import Candidates, FloatArray, IndexedRecommender, IntArray
from homerec.models.storage import IdIndex, append_row, as_rows, contains_row, grow
from homerec.profiles import UserProfile
from homerec.ranker import OnlineRanker
from homerec.typing import ItemId, UserId

__all__ = ["PLANES", "Hybrid"]

PLANES: tuple[str, ...] = (
    "cooc", "cooc_log", "mf", "pop_fast", "pop_slow", "content", "demo",
    "pop_cold", "demo_cold", "content_cold", "content_new", "item_cold", "cooc_recent",
)  # fmt: skip

_GROUP_SLOTS = 8  # profile features kept per user
#: users in a re-rank block from which one product over a copied item matrix beats three
#: products over the item tables as they are, the copy made once per model version (10K
#: items, a new version before each re-rank, median µs per user: 32 users 80 copied vs 67
#: not, 64: 51 vs 53, 128: 42 vs 48, 256: 38 vs 46); a copy already made is always used
_FUSED_MIN_ROWS = 64
# in the candidate stage, a history's co-occurrence is summed sparsely when its neighbour
# slots (items x capacity) are fewer than 1/_SPARSE_RATIO of the catalog, else as a dense
# vector (the full re-rank's kernel needs neither)
_SPARSE_RATIO = 2
_RATING_SHRINK = 5.0  # pseudo-ratings at the mean behind each user / item rating offset
_DEMO_PRIOR = 1.0  # additive prior of the demographic counts
_LOG_PRIOR = math.log(_DEMO_PRIOR)
_NO_ROWS = np.zeros(0, np.int32)
_NO_DRAWS = np.zeros(0, np.float64)  # ranker_columns: every item, no sampling


@dataclass(frozen=True, slots=True)
class _Histories:
    """The recent histories of a block's users, end to end (each newest first)."""

    rows: npt.NDArray[np.int64]  # the block row of each history
    starts: npt.NDArray[np.int64]  # history j is items[starts[j] : starts[j + 1]]
    items: IntArray
    weights: FloatArray  # recency weights (history_decay)
    recent: FloatArray  # short-memory weights (recent_decay)

    def __len__(self) -> int:
        return len(self.rows)

    def each(self) -> Iterator[tuple[int, IntArray, FloatArray]]:
        """``(block row, items, weights)`` per history (views)."""
        bounds = self.starts.tolist()
        for j, r in enumerate(self.rows.tolist()):
            a, b = bounds[j], bounds[j + 1]
            yield r, self.items[a:b], self.weights[a:b]


@dataclass(frozen=True, slots=True)
class _UserSide:
    """User factors of the re-rank's products (see :meth:`Hybrid._user_side`)."""

    P: FloatArray  # embeddings, weighted (B, n_factors)
    U: FloatArray  # weights of the four item scalars (B, 4)
    Ut: FloatArray  # weights of the tag block (B, 2 * tags in use)
    G: FloatArray  # weights of the profile-group rows of logD (B, groups in use)
    histories: _Histories  # whose co-occurrence terms are added to the products
    wf: Mapping[str, float]  # the ranker's plane weights
    scalars: FloatArray  # item side, as of this version (see Hybrid._dense_items)
    tags: FloatArray
    inv_sqrt: FloatArray

    def matrix(self) -> FloatArray:
        """``[P | U | Ut | G]``: pairs with :meth:`Hybrid._fused_items`."""
        out: FloatArray = np.concatenate((self.P, self.U, self.Ut, self.G), axis=1)
        return out


@dataclass(frozen=True, slots=True)
class _CoocWeights:
    """Weights of the three co-occurrence planes in the score, per item where they are
    normalised by ``1/sqrt(count + 1)``."""

    cooc: FloatArray
    recent: FloatArray
    log: np.float32

    @classmethod
    def of(cls, wf: Mapping[str, float], inv_sqrt: FloatArray) -> _CoocWeights:
        return cls(
            np.float32(wf["cooc"]) * inv_sqrt,
            np.float32(wf["cooc_recent"]) * inv_sqrt,
            np.float32(wf["cooc_log"]),
        )

    def term(self, at: npt.NDArray[Any], c0: FloatArray, c1: FloatArray) -> FloatArray:
        """The planes' score at items ``at`` from the long (``c0``) and the recent (``c1``)
        co-occurrence sums there."""
        out: FloatArray = self.cooc[at] * c0 + self.recent[at] * c1 + self.log * np.log1p(c0)
        return out


class Hybrid(IndexedRecommender):
    """The default online hybrid recommender; see the module docstring for the signals.

    Hyperparameters (defaults tuned prequentially on ML-100K, see ``docs/quality.md``):
    ``n_factors``, ``lr``, ``reg``: embeddings and their BPR step; ``n_negatives``,
    ``popular_negatives``: sampled negatives per positive and the share drawn from recent
    events; ``negative_weight``: step size of negative feedback; ``weighted_positives``:
    scale positive steps by the feedback weight; ``history_length``, ``history_decay``,
    ``recent_decay``: the scored history and its two recency memories; ``cooc_window``,
    ``cooc_decay``, ``cooc_capacity``: co-occurrence updates and neighbours kept per item;
    ``history_min_weight``: feedback needed to enter history and counts;
    ``pop_half_life``, ``pop_slow_half_life``: popularity half-lives in events;
    ``tag_dims``, ``profile_groups``: content and demographic table sizes; ``cold_scale``:
    events after which a user or item counts as warm (e-folding); ``ranker_lr``,
    ``ranker_every``: Adam step size of the ranker and how often it steps (every n-th
    positive; raise it to trade ranker freshness for throughput);
    ``ranker_sample``: candidates in the ranker's softmax (all of them up to this many,
    a uniform sample of this many beyond: the step's cost stops growing with the catalog);
    ``sample_buffer``: recent events kept for popularity-sampled negatives.
    """

    name = "hybrid"

    def __init__(
        self,
        *,
        n_factors: int = 32,
        lr: float = 0.05,
        reg: float = 0.01,
        n_negatives: int = 8,
        popular_negatives: float = 0.5,
        negative_weight: float = 0.5,
        weighted_positives: bool = True,
        history_length: int = 30,
        history_decay: float = 0.85,
        recent_decay: float = 0.5,
        cooc_window: int = 30,
        cooc_decay: float = 0.9,
        history_min_weight: float = 0.0,
        cooc_capacity: int = 200,
        pop_half_life: float = 1000.0,
        pop_slow_half_life: float = 20000.0,
        tag_dims: int = 64,
        profile_groups: int = 128,
        cold_scale: float = 5.0,
        ranker_lr: float = 0.01,
        ranker_every: int = 2,
        ranker_sample: int = 128,
        sample_buffer: int = 5000,
        candidates: Candidates = "seen",
        max_tag_share: float | None = None,
        ann_candidates: int = 0,
        ann_rebuild_every: int = 20_000,
        feedback: FeedbackWeights | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(
            candidates=candidates, max_tag_share=max_tag_share, feedback=feedback, seed=seed
        )
        for name, value in (("n_factors", n_factors), ("n_negatives", n_negatives),
                            ("history_length", history_length), ("cooc_window", cooc_window),
                            ("cooc_capacity", cooc_capacity), ("tag_dims", tag_dims),
                            ("profile_groups", profile_groups), ("ranker_every", ranker_every),
                            ("ranker_sample", ranker_sample),
                            ("sample_buffer", sample_buffer)):
            if value < 1:
                raise ConfigError(f"{name} must be at least 1, got {value}")
        if profile_groups > 32_767:  # group ids are int16 per user slot
            raise ConfigError(f"profile_groups must be at most 32767, got {profile_groups}")
        self.n_factors = n_factors
        self.lr = lr
        self.reg = reg
        self.n_negatives = n_negatives
        self.popular_negatives = popular_negatives
        self.negative_weight = negative_weight
        self.weighted_positives = weighted_positives
        self.history_length = history_length
        self.history_decay = history_decay
        self.recent_decay = recent_decay
        self.cooc_window = cooc_window
        self.cooc_decay = cooc_decay
        self.history_min_weight = history_min_weight
        self.cooc_capacity = cooc_capacity
        self.pop_half_life = pop_half_life
        self.pop_slow_half_life = pop_slow_half_life
        self.tag_dims = tag_dims
        self.profile_groups = profile_groups
        self.cold_scale = cold_scale
        self.ranker_lr = ranker_lr
        self.ranker_every = ranker_every
        self.ranker_sample = ranker_sample
        self.sample_buffer = sample_buffer
        if ann_candidates < 0:
            raise ConfigError(f"ann_candidates must be >= 0 (0 = exact), got {ann_candidates}")
        self.ann_candidates = ann_candidates
        self.ann_rebuild_every = ann_rebuild_every
        # the candidate stage in front of the re-rank (None: every item is scored)
        self._ann = (
            AnnCandidates(ann_candidates, rebuild_every=ann_rebuild_every)
            if ann_candidates
            else None
        )
        d = n_factors
        self._P = np.zeros((0, d), np.float32)
        self._Q = np.zeros((0, d), np.float32)
        self._b = np.zeros(0, np.float32)
        self._T = np.zeros((0, tag_dims), np.float32)  # unit-norm tag vectors of items
        self._hist: list[bytearray] = []
        self._groups = np.full((0, _GROUP_SLOTS), -1, np.int16)
        self._group_ids = IdIndex()
        # log(prior + positives per group, item); one row per profile group *in use*
        self._logD = np.zeros((0, 0), np.float32)
        self._D_tot = np.zeros(profile_groups, np.float64)
        self._logD_item = np.zeros(0, np.float32)  # log(prior + Σ_g positives per item)
        self._cooc = CooccurrenceTable(cooc_capacity)
        self._pop = DecayedCounts(pop_half_life)
        self._pop_slow = DecayedCounts(pop_slow_half_life)
        self._buffer = np.full(sample_buffer, -1, np.int32)  # recent items, for negatives
        self._buf_n = 0
        self._slot = np.zeros(0, np.int32)  # scratch of the ranker's kernel (always zeros)
        # scratch of the co-occurrence terms' kernel (zeros between calls)
        self._cooc_acc = np.zeros((2, 0))
        self._cooc_touched = np.zeros(0, np.int64)
        self._n_positive = 0  # positives learned (the ranker steps on every ranker_every-th)
        # rating baseline for MAE/RMSE (sum, count) per user / item / overall; not used to rank
        self._rat_u = np.zeros((0, 2), np.float32)  # float32: 8 MiB less per 1M users
        self._rat_i = np.zeros((0, 2), np.float64)
        self._rat_g = np.zeros(2, np.float64)
        self._ranker = OnlineRanker(len(PLANES) + d + tag_dims, lr=ranker_lr, init=self._init_w())
        self._dense_key: tuple[int, int] | None = None
        # the tag block of the re-rank's products, updated in place (see _dense_items)
        self._V: FloatArray | None = None
        self._V_counts = np.zeros(0, np.float32)
        self._V_tags_key: tuple[int, int, int] | None = None
        self._fused: FloatArray | None = None
        self._fused_key: tuple[int, int, int] | None = None
        self._tag_changes = 0  # tag table rewritten or reallocated (catalog, growth, restore)
        self._dense: (
            tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.float64] | None] | None
        ) = None
        self._decay_pows = (history_decay ** np.arange(history_length)).astype(np.float32)
        self._recent_pows = (recent_decay ** np.arange(history_length)).astype(np.float32)
        self._cooc_pows = (cooc_decay ** np.arange(cooc_window)).astype(np.float32)

    def _init_w(self) -> npt.NDArray[np.float64]:
        w = np.zeros(len(PLANES) + self.n_factors + self.tag_dims)
        w[PLANES.index("cooc")] = 1.0
        w[PLANES.index("pop_fast")] = 0.1
        return w

    # -- tables -----------------------------------------------------------
    def _grow_users(self, capacity: int) -> None:
        n = self._P.shape[0]
        if capacity > n:
            self._P = grow(self._P, capacity)
            new = self._P.shape[0]
            self._groups = grow(self._groups, new, fill=-1)
            self._rat_u = grow(self._rat_u, new)
        while len(self._hist) < capacity:
            self._hist.append(bytearray())

    def _grow_items(self, capacity: int) -> None:
        n = self._Q.shape[0]
        if capacity > n:
            self._Q = grow(self._Q, capacity)
            new = self._Q.shape[0]
            self._b = grow(self._b, new)
            self._rat_i = grow(self._rat_i, new)
            self._T = grow(self._T, new)
            self._tag_changes += 1
            d = np.full((self._logD.shape[0], new), _LOG_PRIOR, np.float32)
            d[:, : self._logD.shape[1]] = self._logD
            self._logD = d
            self._logD_item = grow(self._logD_item, new, fill=_LOG_PRIOR)
            self._cooc.ensure(new)
            self._pop.ensure(new)
            self._pop_slow.ensure(new)

    def _init_user(self, row: int) -> None:
        self._P[row] = self._rng.normal(0.0, 0.1 / math.sqrt(self.n_factors), self.n_factors)

    def _init_item(self, row: int) -> None:
        self._Q[row] = self._rng.normal(0.0, 0.1 / math.sqrt(self.n_factors), self.n_factors)

    def _on_item(self, i: int, item: Item) -> None:
        vec = np.zeros(self.tag_dims, np.float32)
        for t in self._item_tags[i]:
            vec[t % self.tag_dims] += 1.0  # tag ids beyond tag_dims share dimensions
        norm = float(np.linalg.norm(vec))
        self._T[i] = vec / norm if norm > 0 else vec
        self._tag_changes += 1

    def _on_profile(self, u: int, profile: UserProfile) -> None:
        slots = np.full(_GROUP_SLOTS, -1, np.int32)
        n = 0
        for key in sorted(profile.features):
            value = profile.features[key]
            if isinstance(value, int | float) and not isinstance(value, bool):
                label = f"{key}={int(value // 10) * 10}"  # numeric: buckets of ten
            else:
                label = f"{key}={value}"
            g = self._group_ids.get(label)
            if g is None and len(self._group_ids) < self.profile_groups:
                g = self._add_group(label)
            if g is not None and n < _GROUP_SLOTS:
                slots[n] = g
                n += 1
        self._groups[u] = slots

    def _add_group(self, label: str) -> int:
        """A new profile group's id, with its row of demographic counts."""
        g = self._group_ids.add(label)
        rows = self._logD.shape[0]
        if g >= rows:
            more = min(self.profile_groups, max(g + 1, 2 * rows, 8)) - rows
            pad = np.full((more, self._logD.shape[1]), _LOG_PRIOR, np.float32)
            self._logD = np.concatenate((self._logD, pad))
        return g

    # -- features ---------------------------------------------------------
    def _history(self, u: int) -> tuple[IntArray, FloatArray]:
        """Recent history rows of ``u`` (unique, newest first) and their recency weights."""
        h = as_rows(self._hist[u])[::-1] if u >= 0 else np.zeros(0, np.int32)
        if len(h) == 0:
            return h, np.zeros(0, np.float32)
        h = h[: self.history_length]
        return h, self._decay_pows[: len(h)]

    def _planes(self, rows: IntArray) -> tuple[FloatArray, FloatArray]:
        """Feature planes ``X`` of shape ``(B, len(PLANES), n_items)`` and user embeddings ``(B, d)``.

        The reference form of the features (inspection, tests); the re-rank computes the
        same scores without the tensor (:meth:`_score_block`), the ranker's step at its
        columns only (:func:`homerec.kernels.ranker_grad`).
        """
        n = len(self._items)
        Qa, Ta = self._Q[:n], self._T[:n]
        B = len(rows)
        at = slice(0, n)
        if B == 1:
            P = self._P[rows] if rows[0] >= 0 else np.zeros((1, self.n_factors), np.float32)
        else:
            known = rows >= 0
            P = self._P[np.where(known, rows, 0)] * known[:, None]
        X = np.empty((B, len(PLANES), n), np.float32)
        pop_f, pop_s, item_cold = self._item_terms(n, at)
        X[:, 3] = pop_f
        X[:, 4] = pop_s
        X[:, 11] = item_cold
        X[:, 2] = P @ Qa.T
        X[:, 2] += self._b[at]
        prof = np.zeros((B, self.tag_dims), np.float32)
        n_ev = np.zeros(B, np.float32)
        tot = float(self._D_tot.sum())
        base = self._demo_base(at, tot, n)
        inv_sqrt = 1.0 / np.sqrt(self._item_count[at] + 1.0)
        for r, u in enumerate(rows.tolist()):
            X[r, 1] = 0.0
            X[r, 6] = 0.0
            X[r, 12] = 0.0
            if u < 0:
                continue
            n_ev[r] = self._user_events[u]
            hist = self._history_signals(u, n)
            if hist is not None:
                cooc, prof[r] = hist
                X[r, 1] = cooc[0]
                X[r, 12] = cooc[1] * inv_sqrt
            demo = self._demo_lift(u, at, base, tot, n)
            if demo is not None:
                X[r, 6] = demo
        np.multiply(X[:, 1], inv_sqrt, out=X[:, 0])  # cosine-normalised co-occurrence
        np.log1p(X[:, 1], out=X[:, 1])
        if prof.any():
            X[:, 5] = _unit_rows(prof) @ Ta.T
        else:  # nobody in the block has a history yet: no content signal
            X[:, 5] = 0.0
        user_cold = np.exp(-np.minimum(n_ev / self.cold_scale, 60.0))[:, None]
        X[:, 7] = X[:, 3] * user_cold
        X[:, 8] = X[:, 6] * user_cold
        X[:, 9] = X[:, 5] * user_cold
        X[:, 10] = X[:, 5] * X[:, 11]
        return X, P

    def _item_terms(
        self, n: int, at: IntArray | slice
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Item-only planes at columns ``at``: ``pop_fast``, ``pop_slow``, ``item_cold``."""
        if isinstance(at, slice):
            fast, slow = self._pop.values(n)[at], self._pop_slow.values(n)[at]
        else:
            fast, slow = self._pop.values_at(at), self._pop_slow.values_at(at)
        pop_f = np.log1p(np.maximum(fast, 1e-30))
        pop_s = np.log1p(np.maximum(slow, 1e-30))
        # clipped so no float32 denormals appear (they make every later product crawl)
        item_cold = np.exp(-np.minimum(self._item_count[at] / self.cold_scale, 60.0))
        return pop_f, pop_s, item_cold

    def _demo_base(self, at: IntArray | slice, tot: float, n: int) -> FloatArray:
        """The overall term of the demo lift at columns ``at`` (see :meth:`_demo_lift`)."""
        base: FloatArray = self._logD_item[at] - math.log(tot + _DEMO_PRIOR * n)
        return base

    def _demo_lift(
        self, u: int, at: IntArray | slice, base: FloatArray, tot: float, n: int
    ) -> FloatArray | None:
        """``demo`` plane of user row ``u`` at columns ``at``; None without profile groups.

        demo lift = mean_g log((D[g,i]+a)/(D_g+a·n)) - log((D_i+a)/(tot+a·n)); the logs of
        the counts are kept up to date incrementally, so this is a gather and a mean.
        """
        gr = self._groups[u]
        gr = gr[gr >= 0]
        if not len(gr) or tot <= 0:
            return None
        logd = self._logD[gr, at] if isinstance(at, slice) else self._logD[gr[:, None], at]
        g_lift: FloatArray = logd.sum(axis=0)
        g_lift -= float(np.log(self._D_tot[gr] + _DEMO_PRIOR * n).sum())
        g_lift *= 1.0 / len(gr)
        return g_lift - base

    def _history_signals(self, u: int, n: int) -> tuple[FloatArray, FloatArray] | None:
        """Co-occurrence of all ``n`` items with user row ``u``'s history (row 0 long, row 1
        recent memory) and the user's tag profile (not normalised); None without history."""
        h, w = self._history(u)
        if not len(h):
            return None
        prof: FloatArray = w @ self._T[h]
        return self._cooc_signals(h, w, n), prof

    def _cooc_signals(self, h: IntArray, w: FloatArray, n: int) -> FloatArray:
        """Co-occurrence of all ``n`` items with history rows ``h`` of recency weights ``w``:
        row 0 the long memory, row 1 the recent one, each history item normalised by
        ``1/sqrt(count + 1)``."""
        norm_h = 1.0 / np.sqrt(self._item_count[h] + 1.0)
        both = np.stack((w * norm_h, self._recent_pows[: len(h)] * norm_h))
        return self._cooc.scores_multi(h, both, n)

    def _combine(self, X: FloatArray, P: FloatArray) -> FloatArray:
        """The ranker's linear score ``(B, n_items)`` from planes and user embeddings."""
        w = self._ranker.w.astype(np.float32)
        nf, d = len(PLANES), self.n_factors
        n = len(self._items)
        Qa, Ta = self._Q[:n], self._T[:n]
        if len(X) == 1:
            s: FloatArray = (w[:nf] @ X[0])[None, :]
        else:
            s = np.einsum("f,bfn->bn", w[:nf], X)
        s += (P * w[nf : nf + d][None, :]) @ Qa.T
        s += (Ta @ w[nf + d :])[None, :] + np.float32(self._ranker.bias)
        return s

    def _score(self, rows: IntArray) -> FloatArray:
        # one user too: the plane tensor costs ~5x more than the block product (a worker at
        # low load re-ranks one user per batch)
        return self._score_block(rows)

    def _score_block(self, rows: IntArray) -> FloatArray:
        """``_combine(*_planes(rows))`` without the ``(B, planes, items)`` tensor.

        The same linear form, regrouped into products of a user factor and an item factor:
        the embeddings with the ``mf`` plane (``Q`` as it is), four item scalars (the
        item-only planes, the cold-user popularity, the overall part of the demo lift) and
        the two content planes (a tag block kept between versions), see
        :meth:`_dense_items`, and the demo lift's profile-group rows (``logD``). Only the
        sparse co-occurrence terms are then added (:meth:`_add_cooc_terms`).
        """
        n = len(self._items)
        side = self._user_side(rows, n)
        S: FloatArray
        if len(rows) >= _FUSED_MIN_ROWS or self._has_fused(n):
            # one product over all columns: copying the item side into one matrix (per
            # version) pays off over many users, and the score is written once
            S = side.matrix() @ self._fused_items(n, side.scalars, side.tags).T
        else:
            S = side.P @ self._Q[:n].T
            S += side.U @ side.scalars
            if side.Ut.any():
                S += side.Ut @ side.tags.T
            if side.G.any():
                S += side.G @ self._logD[: side.G.shape[1], :n]
        if len(side.histories):
            self._add_cooc_terms(S, side.histories, side.inv_sqrt, side.wf)
        return S

    def _user_side(self, rows: IntArray, n: int) -> _UserSide:
        """The user factors of :meth:`_score_block`'s products for user ``rows`` (and the
        item side they pair with, as of this version), plus the histories whose sparse
        co-occurrence terms are added afterwards."""
        B = len(rows)
        d = self.n_factors
        w = self._ranker.w.astype(np.float32)
        wf = {name: float(w[i]) for i, name in enumerate(PLANES)}
        scalars, tags, inv_sqrt, demo_norm = self._dense_items(n, w)
        known = rows >= 0
        P = np.zeros((B, d), np.float32)
        n_ev = np.zeros(B, np.float32)
        if known.any():
            P[known] = self._P[rows[known]]
            n_ev[known] = self._user_events[rows[known]]
        user_cold = np.exp(-np.minimum(n_ev / self.cold_scale, 60.0)).astype(np.float32)
        P *= wf["mf"] + w[len(PLANES) : len(PLANES) + d]
        U = np.zeros((B, 4), np.float32)  # weights of the item scalars, per user
        U[:, 0] = 1.0
        U[:, 1] = wf["pop_cold"] * user_cold
        demo_w = (wf["demo"] + wf["demo_cold"] * user_cold).astype(np.float32)
        t = tags.shape[1] // 2  # tag columns in use (see _dense_items)
        prof = np.zeros((B, t), np.float32)
        hist = self._block_histories(rows)
        if len(hist):
            # Σ_h w_h T[h] per history: one gather, one segmented sum
            part = hist.weights[:, None] * self._T[hist.items, :t]
            prof[hist.rows] = np.add.reduceat(part, hist.starts[:-1], axis=0)
        G = np.zeros((B, len(self._group_ids)), np.float32)  # weights of logD's group rows
        if demo_norm is not None and known.any():
            # demo lift = mean_g logD[g] - mean_g log(D_g + a·n) - base: all three terms
            # are products (the first one with the logD rows of the user's groups)
            at = np.flatnonzero(known)
            gr = self._groups[rows[at]]
            valid = gr >= 0
            n_gr = valid.sum(axis=1)
            has = n_gr > 0
            at, gr, valid, n_gr = at[has], gr[has], valid[has], n_gr[has]
            dw = demo_w[at]
            norm_sum = np.where(valid, demo_norm[np.maximum(gr, 0)], 0.0).sum(axis=1)
            U[at, 2] = -dw
            U[at, 3] = -dw * (norm_sum / n_gr)
            who, slot = np.nonzero(valid)
            np.add.at(G, (at[who], gr[who, slot]), (dw / n_gr)[who])
        Ut = np.zeros((B, 2 * t), np.float32)
        if prof.any():
            unit = _unit_rows(prof)
            Ut[:, :t] = unit * (wf["content"] + wf["content_cold"] * user_cold)[:, None]
            Ut[:, t:] = unit * wf["content_new"]
        return _UserSide(P, U, Ut, G, hist, wf, scalars, tags, inv_sqrt)

    def _block_histories(self, rows: IntArray) -> _Histories:
        """:meth:`_history` of every known user in ``rows``, end to end: one join of their
        history buffers and index arithmetic, no numpy call per user."""
        L = self.history_length
        known = [(r, u) for r, u in enumerate(rows.tolist()) if u >= 0 and self._hist[u]]
        bufs = [self._hist[u] for _, u in known]
        lengths = np.fromiter((len(b) >> 2 for b in bufs), np.int64, len(bufs))
        keep = np.minimum(lengths, L)
        starts = np.zeros(len(bufs) + 1, np.int64)
        np.cumsum(keep, out=starts[1:])
        # position within its history (0 = newest) and where it sits in the joined buffers
        age = np.arange(starts[-1]) - np.repeat(starts[:-1], keep)
        newest = np.cumsum(lengths) - 1
        flat = np.frombuffer(b"".join(bufs), "<i4")
        return _Histories(
            rows=np.fromiter((r for r, _ in known), np.int64, len(known)),
            starts=starts,
            items=flat[np.repeat(newest, keep) - age].astype(np.int32),
            weights=self._decay_pows[age],
            recent=self._recent_pows[age],
        )

    def _candidate_scores(
        self, rows: IntArray
    ) -> tuple[npt.NDArray[np.int64], FloatArray] | None:
        """With ``ann_candidates``: per user, the items the index proposes plus the items
        the user's co-occurrence reaches, scored exactly (columns sorted within a row,
        padding ``n`` last). None until an index of the current width is ready (score
        everything then)."""
        ann = self._ann
        n = len(self._items)
        if ann is None or n == 0:
            return None
        # the item side, cached per version (_user_side below gets the same arrays)
        scalars, tags, _, _ = self._dense_items(n, self._ranker.w.astype(np.float32))
        # the snapshot lives only until the index is built (~44 MB at 100K items)
        ann.refresh(self._version, lambda: self._fused_items(n, scalars, tags, keep=False))
        if not ann.ready:
            return None  # the first build is on its way: the caller scores every item
        # new catalog items go into the current index at once (not only at the rebuild)
        ann.extend(n, lambda lo, hi: self._fused_rows(lo, hi, scalars, tags))
        side = self._user_side(rows, n)
        # seen items are excluded afterwards: fetch as many more as the block's users
        # have seen (up to ann_candidates more; 4 bytes per int32 row in _user_items)
        seen = max((len(self._user_items[u]) for u in rows.tolist() if u >= 0), default=0) // 4
        found = ann.query(side.matrix(), extra=min(seen, ann.n))
        if found is None:
            return None
        B = len(rows)
        hist = side.histories
        extra: list[npt.NDArray[np.int64]] = [np.zeros(0, np.int64)] * B
        dense_cooc: dict[int, FloatArray] = {}
        short = self._short_histories(hist, n)
        for j, (r, h, hw) in enumerate(hist.each()):
            if not short[j]:  # a long history: its strongest neighbours are candidates too
                c = self._cooc_signals(h, hw, n)
                dense_cooc[r] = c
                top = min(ann.n, n)
                extra[r] = np.argpartition(-c[0], top - 1)[:top].astype(np.int64)
        short_rows = hist.rows[short]
        pairs = self._short_cooc(hist, short, n) if len(short_rows) else None
        if pairs is not None:
            who, cols, _ = pairs
            starts = np.searchsorted(who, np.arange(len(short_rows) + 1))
            for j, r in enumerate(short_rows.tolist()):
                extra[r] = cols[starts[j] : starts[j + 1]]
        cand = _sorted_unique_rows(np.where(found >= 0, found, n), extra, pad=n)
        width = cand.shape[1]
        at = np.minimum(cand, n - 1)
        S = np.einsum("bd,bcd->bc", side.P, self._Q[at])
        S += np.einsum("fb,fbc->bc", side.U.T, side.scalars[:, at])
        if side.Ut.any():
            S += np.einsum("bt,bct->bc", side.Ut, side.tags[at])
        if side.G.any():
            S += np.einsum("bg,gbc->bc", side.G, self._logD[: side.G.shape[1]][:, at])
        weights = _CoocWeights.of(side.wf, side.inv_sqrt)
        for r, c in dense_cooc.items():
            a = at[r]
            S[r] += weights.term(a, c[0, a], c[1, a])
        if pairs is not None:
            who, cols, sums = pairs
            row = short_rows[who]
            # each row's candidates are sorted, padding last: one search over all rows
            keys = (np.arange(B)[:, None] * (n + 1) + cand).ravel()
            pos = np.searchsorted(keys, row * (n + 1) + cols) - row * width
            c0, c1 = sums.astype(np.float32)
            S[row, pos] += weights.term(cols, c0, c1)
        return cand, S

    def _add_cooc_terms(
        self, S: FloatArray, hist: _Histories, inv_sqrt: FloatArray, wf: Mapping[str, float]
    ) -> None:
        """Add the co-occurrence planes (``cooc``, ``cooc_log``, ``cooc_recent``) of the
        block's histories to its score rows ``S``: one compiled call
        (:func:`homerec.kernels.add_cooc_terms`) that scans each history's neighbour slots
        once, whatever the history's length or the catalog's size."""
        n = S.shape[1]
        weights = _CoocWeights.of(wf, inv_sqrt)
        if self._cooc_acc.shape[1] < n:
            self._cooc_acc = np.zeros((2, max(n, 2 * self._cooc_acc.shape[1])))
        # compiled code checks no bounds: room for every slot of the longest history
        need = int(np.diff(hist.starts).max()) * self._cooc.ids.shape[1]
        if len(self._cooc_touched) < need:
            self._cooc_touched = np.zeros(need, np.int64)
        add_cooc_terms(
            S, hist.rows, hist.starts, hist.items, hist.weights, hist.recent,
            self._cooc.ids, self._cooc.counts, self._item_count,
            weights.cooc, weights.recent, float(weights.log),
            self._cooc_acc, self._cooc_touched,
        )  # fmt: skip

    def _short_histories(self, hist: _Histories, n: int) -> npt.NDArray[np.bool_]:
        """Which histories' co-occurrence is summed sparsely (:meth:`_short_cooc`): those
        whose neighbour slots are fewer than ``1/_SPARSE_RATIO`` of the ``n`` items."""
        short: npt.NDArray[np.bool_] = (
            np.diff(hist.starts) * self.cooc_capacity * _SPARSE_RATIO <= n
        )
        return short

    def _short_cooc(
        self, hist: _Histories, short: npt.NDArray[np.bool_], n: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """:meth:`CooccurrenceTable.sums_sparse` of the ``short`` histories of ``hist``:
        ``(number among them, item, sums)`` for the long and the recent memory."""
        lengths = np.diff(hist.starts)
        mine = np.repeat(short, lengths)  # the short histories' entries
        src = hist.items[mine]
        owner = np.repeat(np.arange(int(short.sum())), lengths[short])
        norm_h = 1.0 / np.sqrt(self._item_count[src] + 1.0)
        both = np.stack((hist.weights[mine] * norm_h, hist.recent[mine] * norm_h))
        return self._cooc.sums_sparse(src, owner, both, n)

    def _dense_items(
        self, n: int, w: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.float64] | None]:
        """Item side of :meth:`_score_block`'s products, cached per model version.

        Returns ``scalars`` (4 × items: the item-only part of the score, ``pop_fast``, the
        overall demo term and ones), ``tags`` (items × 2·tag_dims: tag vectors, and tag
        vectors times ``item_cold``), ``1/sqrt(count+1)`` per item and ``log(D_g + a·n)``
        per group (None without demographic counts). ``tags`` is kept between versions:
        tag vectors change only with the catalog and ``item_cold`` only for items whose
        count moved, and rebuilding it made most of a small batch's re-rank.
        """
        key = (self._version, n)
        if self._dense_key == key and self._dense is not None:
            return self._dense
        nf, d = len(PLANES), self.n_factors
        # only the tag columns that some tag maps to: the others are zero in every item
        # (a catalog of 30 tags uses 30 of the 64 default dimensions)
        t = min(self.tag_dims, len(self._tags))
        wf = {name: float(w[i]) for i, name in enumerate(PLANES)}
        every = slice(0, n)
        pop_f, pop_s, item_cold = (x.astype(np.float32) for x in self._item_terms(n, every))
        inv_sqrt = (1.0 / np.sqrt(self._item_count[:n] + 1.0)).astype(np.float32)
        tot = float(self._D_tot.sum())
        counts = self._item_count[:n]
        tags_key = (n, self._tag_changes, t)
        if self._V is None or self._V_tags_key != tags_key:
            self._V = np.empty((n, 2 * t), np.float32)
            self._V[:, :t] = self._T[:n, :t]
            self._V[:, t:] = self._T[:n, :t] * item_cold[:, None]
            self._V_counts = counts.copy()
            self._V_tags_key = tags_key
        else:
            moved = np.flatnonzero(counts != self._V_counts)
            if len(moved):
                self._V[moved, t:] = self._T[moved, :t] * item_cold[moved, None]
                self._V_counts[moved] = counts[moved]
        scalars = np.empty((4, n), np.float32)
        scalars[0] = (
            wf["pop_fast"] * pop_f + wf["pop_slow"] * pop_s + wf["item_cold"] * item_cold
            + wf["mf"] * self._b[:n] + self._T[:n] @ w[nf + d :] + np.float32(self._ranker.bias)
        )  # fmt: skip
        scalars[1] = pop_f
        demo_norm: npt.NDArray[np.float64] | None = None
        if tot > 0:
            scalars[2] = self._demo_base(every, tot, n)
            scalars[3] = 1.0
            demo_norm = np.log(self._D_tot + _DEMO_PRIOR * n)
        else:
            scalars[2:] = 0.0
        self._dense = (scalars, self._V, inv_sqrt, demo_norm)
        self._dense_key = key
        return self._dense

    def _fused_items(
        self, n: int, scalars: FloatArray, tags: FloatArray, *, keep: bool = True
    ) -> FloatArray:
        """``[Q | scalars.T | tags | logD.T]`` (items × columns) for the one-product path
        of :meth:`_score_block`, built once per model version (``keep=False``: a copy
        that is not kept, for the candidate index's snapshot)."""
        key = self._fused_version(n)
        if self._fused is not None and self._fused_key == key:
            return self._fused
        V = self._fused_rows(0, n, scalars, tags)
        if keep:
            self._fused, self._fused_key = V, key
        return V

    def _fused_version(self, n: int) -> tuple[int, int, int]:
        """What :meth:`_fused_items` is built for: model version, items, profile groups."""
        return (self._version, n, len(self._group_ids))

    def _has_fused(self, n: int) -> bool:
        """:meth:`_fused_items` of this version and catalog is built already."""
        return self._fused is not None and self._fused_key == self._fused_version(n)

    def _fused_rows(self, lo: int, hi: int, scalars: FloatArray, tags: FloatArray) -> FloatArray:
        """Rows ``lo..hi-1`` of :meth:`_fused_items` (a new array)."""
        n_groups = len(self._group_ids)
        d, w = self.n_factors, tags.shape[1]
        V = np.empty((hi - lo, d + 4 + w + n_groups), np.float32)
        V[:, :d] = self._Q[lo:hi]
        V[:, d : d + 4] = scalars[:, lo:hi].T
        V[:, d + 4 : d + 4 + w] = tags[lo:hi]
        V[:, d + 4 + w :] = self._logD[:n_groups, lo:hi].T
        return V

    def features(self, user_row: int, cols: IntArray) -> npt.NDArray[np.float64]:
        """The ranker's input rows ``x`` (one per item column) for one user (for inspection)."""
        X, P = self._planes(np.array([user_row], np.int32))
        n = len(self._items)
        nf, d = len(PLANES), self.n_factors
        x = np.empty((len(cols), self._ranker.n_features), np.float64)
        x[:, :nf] = X[0][:, cols].T
        x[:, nf : nf + d] = P[0][None, :] * self._Q[:n][cols]
        x[:, nf + d :] = self._T[:n][cols]
        return x

    # -- learning ---------------------------------------------------------
    def _ranker_step(self, u: int, pos: int, weight: float) -> None:
        """Softmax step: the event's item against the other candidates of this user.

        Taken before the event is learned: the features must not already contain it.
        Up to ``ranker_sample`` items the softmax is over every candidate (exact); beyond,
        over the positive and the candidates among ``ranker_sample - 1`` items drawn
        uniformly with replacement (sampled softmax: a uniform proposal needs no
        log-probability correction), so the step's cost stops growing with the catalog.
        The gradient is one compiled call (:func:`homerec.kernels.ranker_grad`) over
        those columns only.
        """
        cols = self._ranker_columns(u, pos)
        if len(cols) > 1:
            self._ranker.step(self._step_weight(weight) * self._ranker_grad(u, cols))

    def _ranker_columns(self, u: int, pos: int) -> npt.NDArray[np.int64]:
        """The softmax's items for a step of user row ``u`` on ``pos`` (``pos`` first)."""
        n = len(self._items)
        # no draws: the exact softmax over every candidate
        uniform = _NO_DRAWS if n <= self.ranker_sample else self._rng.random(self.ranker_sample - 1)
        mine = as_rows(self._user_items[u]) if self._user_items[u] else _NO_ROWS
        cols: npt.NDArray[np.int64] = ranker_columns(
            uniform, n, pos, self._item_seen, self._item_catalog, self._item_active,
            self.candidates == "catalog", mine,
        )  # fmt: skip
        return cols

    def _ranker_grad(self, u: int, cols: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """Gradient of ``-log softmax(w·x)[0]`` over the items ``cols`` for user row ``u``
        (``x``: :meth:`features`), computed at those columns only."""
        n = len(self._items)
        if len(self._slot) < n:
            self._slot = np.zeros(max(n, 2 * len(self._slot)), np.int32)
        h, hw = self._history(u)
        groups = self._groups[u]
        fast, fast_scale = self._pop.raw()
        slow, slow_scale = self._pop_slow.raw()
        grad: npt.NDArray[np.float64] = ranker_grad(
            cols, self._P[u], self._Q, self._b, self._T,
            fast, fast_scale, slow, slow_scale, self._item_count, self.cold_scale,
            float(self._user_events[u]),
            np.ascontiguousarray(h), hw, self._recent_pows[: len(h)],
            self._cooc.ids, self._cooc.counts, groups[groups >= 0],
            self._logD, self._logD_item, self._D_tot, _DEMO_PRIOR, n,
            self._ranker.w, self._ranker.bias, self._slot,
        )  # fmt: skip
        return grad

    def _step_weight(self, weight: float) -> float:
        """How strongly a positive of feedback ``weight`` moves the ranker and the embeddings."""
        return min(weight, 2.0) if self.weighted_positives else 1.0

    def predict_one(self, user: UserId, item: ItemId) -> float | None:
        """A rating guess: the global mean plus shrunk user and item offsets (for MAE/RMSE only)."""
        fw = self._fw
        g_n = float(self._rat_g[1])
        mean = float(self._rat_g[0]) / g_n if g_n else fw.rating_neutral
        guess = mean
        u, i = self._users.get(user), self._items.get(item)
        if u is not None and u < len(self._rat_u):
            n_u = float(self._rat_u[u, 1])
            guess += (float(self._rat_u[u, 0]) - n_u * mean) / (n_u + _RATING_SHRINK)
        if i is not None and i < len(self._rat_i):
            n_i = float(self._rat_i[i, 1])
            guess += (float(self._rat_i[i, 0]) - n_i * mean) / (n_i + _RATING_SHRINK)
        return float(min(max(guess, fw.rating_min), fw.rating_max))

    def _learn(self, u: int, i: int, weight: float, event: Event) -> None:
        if event.type == "rating" and event.value is not None:
            v = float(event.value)
            ru, ri, rg = self._rat_u, self._rat_i, self._rat_g
            ru[u, 0] += v
            ru[u, 1] += 1.0
            ri[i, 0] += v
            ri[i, 1] += 1.0
            rg[0] += v
            rg[1] += 1.0
        self._pop.tick()
        self._pop_slow.tick()
        if weight > 0:
            self._n_positive += 1
            if self._n_positive % self.ranker_every == 0:
                self._ranker_step(u, i, weight)
            self._bpr(u, i, weight)
        elif weight < 0 and self.negative_weight > 0:
            self._push_down(u, i, -weight * self.negative_weight)
        if weight >= self.history_min_weight:
            h = as_rows(self._hist[u])[::-1][: self.cooc_window]
            if len(h):
                keep = h != i
                self._cooc.add_pairs(h[keep], i, self._cooc_pows[: len(h)][keep])
            self._push_history(u, i)
            self._pop.add(i)
            self._pop_slow.add(i)
            self._buffer[self._buf_n % self.sample_buffer] = i
            self._buf_n += 1
            if weight > 0:
                add_group_positive(self._logD, self._D_tot, self._logD_item, self._groups[u], i)

    def _push_history(self, u: int, i: int) -> None:
        buf = self._hist[u]
        if contains_row(buf, i):
            rows = as_rows(buf)
            buf = bytearray(rows[rows != i].astype("<i4").tobytes())
        append_row(buf, i)
        if len(buf) > 8 * self.history_length:
            buf = buf[-4 * self.history_length :]
        self._hist[u] = buf

    def _bpr(self, u: int, i: int, weight: float) -> None:
        """One BPR step of ``P[u]``, ``Q[i]``, ``b[i]`` against ``n_negatives`` sampled items
        (:func:`homerec.kernels.bpr_step`): a ``popular_negatives`` share drawn from the
        recent events' items, the rest uniformly; the positive itself is skipped."""
        k = self.n_negatives
        n_pop = int(round(k * self.popular_negatives)) if self._buf_n else 0
        # one generator call for both kinds (a call costs more than the maths)
        bpr_step(
            self._P, self._Q, self._b, u, i, self._rng.random(k), len(self._items), n_pop,
            self._buffer, min(self._buf_n, self.sample_buffer),
            self.lr * self._step_weight(weight), self.reg,
        )  # fmt: skip

    def _push_down(self, u: int, i: int, weight: float) -> None:
        lr, reg = self.lr * weight, self.reg
        p = self._P[u].copy()
        q = self._Q[i].copy()
        s = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, float(p @ q + self._b[i])))))
        self._P[u] -= lr * (s * q + reg * p)
        self._Q[i] -= lr * (s * p + reg * q)
        self._b[i] -= lr * s

    # -- state (implemented in homerec.models.hybrid_state) ----------------
    def _extra_state(self, n_users: int, n_items: int) -> dict[str, Any]:
        return _state.extra_state(self, n_users, n_items)

    def _load_extra_state(self, state: Mapping[str, Any], n_users: int, n_items: int) -> None:
        _state.load_extra_state(self, state, n_users, n_items)

    def _extra_user_state(self, u: int) -> dict[str, Any]:
        return _state.extra_user_state(self, u)

    def _load_extra_user_state(self, u: int, state: Mapping[str, Any]) -> None:
        _state.load_extra_user_state(self, u, state)

    def _extra_item_state(self, i: int) -> dict[str, Any]:
        return _state.extra_item_state(self, i)

    def _load_extra_item_state(self, i: int, state: Mapping[str, Any]) -> None:
        _state.load_extra_item_state(self, i, state)


def _sorted_unique_rows(
    found: npt.NDArray[np.int64], extra: list[npt.NDArray[np.int64]], *, pad: int
) -> npt.NDArray[np.int64]:
    """Per row, the union of ``found[r]`` and ``extra[r]`` sorted, padded with ``pad`` (a
    value above every real one) at the end; as narrow as the longest row allows.

    >>> _sorted_unique_rows(np.array([[3, 1, 9], [2, 9, 9]]), [np.array([1, 5]), np.array([], np.int64)], pad=9).tolist()
    [[1, 3, 5], [2, 9, 9]]
    """
    B = len(found)
    width = max((len(e) for e in extra), default=0)
    both = np.full((B, found.shape[1] + width), pad, np.int64)
    both[:, : found.shape[1]] = found
    for r, e in enumerate(extra):
        if len(e):
            both[r, found.shape[1] : found.shape[1] + len(e)] = e
    both.sort(axis=1)
    both[:, 1:][both[:, 1:] == both[:, :-1]] = pad  # repeats become padding ...
    both.sort(axis=1)  # ... and move to the end
    keep = max(1, int((both < pad).sum(axis=1).max(initial=0)))
    out: npt.NDArray[np.int64] = both[:, :keep]
    return out


def _unit_rows(x: FloatArray) -> FloatArray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norm = np.sqrt((x * x).sum(axis=1, keepdims=True))
    out: FloatArray = np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
    return out

"""The reference form of the hybrid's score: every feature plane computed on its own.

Plain and slow (a ``(users, planes, items)`` tensor), written from the planes'
definitions: the tests check :mod:`~homerec.models.hybrid.scoring` (the one
implementation the model ranks with) and the compiled ranker step
(:func:`homerec.kernels.ranker_grad`) against it. Nothing else uses it, except
:meth:`~homerec.models.hybrid.model.Hybrid.features` (inspection).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from homerec.models.hybrid.demographics import DEMO_PRIOR
from homerec.models.hybrid.planes import N_PLANES, Plane, factor_weights, tag_weights
from homerec.models.hybrid.scoring import Bookkeeping
from homerec.models.hybrid.tables import HybridTables
from homerec.typing import FloatArray, IndexArray, IntArray

__all__ = ["features", "planes", "scores"]


def planes(
    tables: HybridTables, book: Bookkeeping, rows: IntArray, *, cold_scale: float,
    long_pows: FloatArray, recent_pows: FloatArray, rate_prior: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:  # fmt: skip
    """Feature planes ``X`` ``(B, N_PLANES, n_items)`` of user ``rows`` (``-1``: unknown)
    and their embeddings ``(B, n_factors)``, in float64.

    ``long_pows``, ``recent_pows``: recency weights of history positions (as many as are
    scored); ``cold_scale``: events after which a user or item counts as warm;
    ``rate_prior``: pseudo-clicks behind each item's click rate.
    """
    users, items = tables.users, tables.items
    demo = items.demo
    n = book.n_items
    B, d = len(rows), users.P.shape[1]
    count = book.item_count[:n].astype(np.float64)
    inv_sqrt = 1.0 / np.sqrt(count + 1.0)
    n_groups_total = demo.total()
    X = np.zeros((B, N_PLANES, n))
    P = np.zeros((B, d))
    item_cold = np.exp(-np.minimum(count / cold_scale, 60.0))
    X[:, Plane.POP_FAST] = np.log1p(np.maximum(items.pop.values(n), 1e-30))
    X[:, Plane.POP_SLOW] = np.log1p(np.maximum(items.pop_slow.values(n), 1e-30))
    X[:, Plane.ITEM_COLD] = item_cold
    rates = book.rates
    X[:, Plane.ITEM_RATE] = np.log(
        (rates.clicks[:n].astype(np.float64) + rate_prior)
        / (rates.rate * rates.shown[:n].astype(np.float64) + rate_prior)
    )
    for r, u in enumerate(rows.tolist()):
        if u >= 0:
            P[r] = users.P[u]
        X[r, Plane.MF] = items.Q[:n].astype(np.float64) @ P[r] + items.b[:n]
        n_events = float(book.user_events[u]) if u >= 0 else 0.0
        user_cold = math.exp(-min(n_events / cold_scale, 60.0))
        h = users.history(u, len(long_pows))
        if len(h):
            long_w, recent_w = long_pows[: len(h)], recent_pows[: len(h)]
            c_long, c_recent = np.zeros(n), np.zeros(n)
            for a, src in enumerate(h.tolist()):
                norm = 1.0 / math.sqrt(float(book.item_count[src]) + 1.0)
                for nb, c in zip(items.cooc.ids[src].tolist(), items.cooc.counts[src].tolist(),
                                 strict=True):  # fmt: skip
                    if nb >= 0:
                        c_long[nb] += long_w[a] * norm * c
                        c_recent[nb] += recent_w[a] * norm * c
            X[r, Plane.COOC] = c_long * inv_sqrt
            X[r, Plane.COOC_LOG] = np.log1p(c_long)
            X[r, Plane.COOC_RECENT] = c_recent * inv_sqrt
            profile = long_w.astype(np.float64) @ items.T[h]
            norm_p = float(np.linalg.norm(profile))
            if norm_p > 0:
                X[r, Plane.CONTENT] = items.T[:n] @ (profile / norm_p)
        groups = users.groups[u][users.groups[u] >= 0] if u >= 0 else []
        if len(groups) and n_groups_total > 0:
            # mean_g log((D[g,i]+a)/(D_g+a·n)) - log((D_i+a)/(tot+a·n))
            lift = np.mean(
                [demo.logD[g, :n] - math.log(demo.D_tot[g] + DEMO_PRIOR * n) for g in groups],
                axis=0,
            )
            X[r, Plane.DEMO] = lift - (
                demo.logD_item[:n] - math.log(n_groups_total + DEMO_PRIOR * n)
            )
        X[r, Plane.POP_COLD] = X[r, Plane.POP_FAST] * user_cold
        X[r, Plane.DEMO_COLD] = X[r, Plane.DEMO] * user_cold
        X[r, Plane.CONTENT_COLD] = X[r, Plane.CONTENT] * user_cold
        X[r, Plane.CONTENT_NEW] = X[r, Plane.CONTENT] * item_cold
    return X, P


def scores(
    tables: HybridTables, book: Bookkeeping, rows: IntArray, *, cold_scale: float,
    long_pows: FloatArray, recent_pows: FloatArray, rate_prior: float,
) -> npt.NDArray[np.float64]:  # fmt: skip
    """The ranker's linear score ``(B, n_items)``: ``w·x + bias`` of the :func:`planes`,
    the per-factor product and the per-tag item biases; for a user with no event
    (unknown users too), :mod:`~homerec.models.hybrid.cold_start`'s ``pop_slow + β·demo``."""
    X, P = planes(tables, book, rows, cold_scale=cold_scale, long_pows=long_pows,
                  recent_pows=recent_pows, rate_prior=rate_prior)  # fmt: skip
    ranker, items = tables.shared.ranker, tables.items
    n, d = book.n_items, P.shape[1]
    w = ranker.w
    s: npt.NDArray[np.float64] = np.einsum("f,bfn->bn", w[:N_PLANES], X)
    s += (P * w[factor_weights(d)]) @ items.Q[:n].T
    s += (items.T[:n] @ w[tag_weights(d)])[None, :] + ranker.bias
    beta = tables.shared.cold.beta
    for r, u in enumerate(rows.tolist()):
        if u < 0 or book.user_events[u] == 0:
            s[r] = X[r, Plane.POP_SLOW] + beta * X[r, Plane.DEMO]
    return s


def features(
    tables: HybridTables, book: Bookkeeping, user_row: int, cols: IndexArray | IntArray, *,
    cold_scale: float, long_pows: FloatArray, recent_pows: FloatArray, rate_prior: float,
) -> npt.NDArray[np.float64]:  # fmt: skip
    """The ranker's input rows ``x`` (one per item of ``cols``) for one user: the planes,
    ``e_u⊙e_i`` and the item's tag vector; ``w·x + bias`` is its score."""
    X, P = planes(tables, book, np.array([user_row], np.int32), cold_scale=cold_scale,
                  long_pows=long_pows, recent_pows=recent_pows,
                  rate_prior=rate_prior)  # fmt: skip
    items = tables.items
    d = P.shape[1]
    x = np.empty((len(cols), tables.shared.ranker.n_features))
    x[:, :N_PLANES] = X[0][:, cols].T
    x[:, factor_weights(d)] = P[0][None, :] * items.Q[cols]
    x[:, tag_weights(d)] = items.T[cols]
    return x

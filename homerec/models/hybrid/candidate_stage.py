"""The hybrid's candidate stage: an approximate index proposes items, scored exactly.

With ``ann_candidates``, a re-rank scores per user only the items the index
(:class:`~homerec.candidates.AnnCandidates`, over the item factors of
:mod:`~homerec.models.hybrid.scoring`) proposes plus the items the user's
co-occurrence reaches, with the same score as the full re-rank at those columns.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from homerec.candidates import AnnCandidates
from homerec.models.hybrid.scoring import Bookkeeping, CoocWeights, Scorer
from homerec.models.hybrid.tables import HybridTables
from homerec.models.hybrid.user_tables import Histories
from homerec.typing import FloatArray, IndexArray, IntArray

__all__ = ["SPARSE_RATIO", "candidate_scores", "sorted_unique_rows"]

#: a history's co-occurrence is summed sparsely when its neighbour slots (items x
#: capacity) are fewer than 1/SPARSE_RATIO of the catalog, else as a dense vector
SPARSE_RATIO = 2


def candidate_scores(
    scorer: Scorer,
    ann: AnnCandidates,
    tables: HybridTables,
    book: Bookkeeping,
    rows: IntArray,
    seen: int,
) -> tuple[IndexArray, FloatArray] | None:
    """Per user of ``rows``, the items the index proposes plus the items the user's
    co-occurrence reaches, scored exactly: ``(columns, scores)``, columns sorted within a
    row, padding ``n_items`` last. ``seen``: the most items one of the users has
    interacted with (they are excluded afterwards: as many more are fetched). None until
    an index of the current width is ready (score everything then)."""
    n = book.n_items
    if n == 0:
        return None
    # the item side, cached per version (user_side below gets the same arrays)
    items = scorer.item_side(tables, book)
    # the snapshot lives only until the index is built (~44 MB at 100K items)
    ann.refresh(book.version, lambda: scorer.fused_items(tables, book, items, keep=False))
    if not ann.ready:
        return None  # the first build is on its way: the caller scores every item
    # new catalog items go into the current index at once (not only at the rebuild)
    ann.extend(n, lambda lo, hi: scorer.fused_rows(tables, items, lo, hi))
    side = scorer.user_side(tables, book, rows)
    found = ann.query(side.matrix(), extra=min(seen, ann.n))
    if found is None:
        return None
    B = len(rows)
    hist = side.histories
    extra: list[IndexArray] = [np.zeros(0, np.int64)] * B
    dense_cooc: dict[int, FloatArray] = {}
    short = _short_histories(hist, tables.items.cooc.capacity, n)
    for j, (r, h, hw) in enumerate(hist.each()):
        if not short[j]:  # a long history: its strongest neighbours are candidates too
            c = scorer.cooc_sums(tables, book, h, hw)
            dense_cooc[r] = c
            top = min(ann.n, n)
            extra[r] = np.argpartition(-c[0], top - 1)[:top].astype(np.int64)
    short_rows = hist.rows[short]
    pairs = scorer.cooc_sums_sparse(tables, book, hist, short) if len(short_rows) else None
    if pairs is not None:
        who, cols, _ = pairs
        starts = np.searchsorted(who, np.arange(len(short_rows) + 1))
        for j, r in enumerate(short_rows.tolist()):
            extra[r] = cols[starts[j] : starts[j + 1]]
    cand = sorted_unique_rows(np.where(found >= 0, found, n), extra, pad=n)
    width = cand.shape[1]
    at = np.minimum(cand, n - 1)
    S = scorer.product_at(tables, side, at)
    weights = CoocWeights.of(side.wf, side.items.inv_sqrt)
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


def _short_histories(hist: Histories, capacity: int, n: int) -> npt.NDArray[np.bool_]:
    """Which histories' co-occurrence is summed sparsely: those whose neighbour slots
    (``capacity`` per item) are fewer than ``1/SPARSE_RATIO`` of the ``n`` items."""
    short: npt.NDArray[np.bool_] = np.diff(hist.starts) * capacity * SPARSE_RATIO <= n
    return short


def sorted_unique_rows(found: IndexArray, extra: list[IndexArray], *, pad: int) -> IndexArray:
    """Per row, the union of ``found[r]`` and ``extra[r]`` sorted, padded with ``pad`` (a
    value above every real one) at the end; as narrow as the longest row allows.

    >>> sorted_unique_rows(np.array([[3, 1, 9], [2, 9, 9]]), [np.array([1, 5]), np.array([], np.int64)], pad=9).tolist()
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
    out: IndexArray = both[:, :keep]
    return out

"""Vectorised top-K selection and the page-level business rules.

One :func:`top_k` call ranks a whole block of users: the best ``k`` (or a few
more when a tag cap needs room) of every row, sorted, then, if asked, filtered so
that no single genre/tag fills more than ``max_tag_share`` of the page while other
candidates can fill it (the cap never leaves a page short). Float32
scores (the models' re-rank) go through one compiled pass per row
(:func:`homerec.kernels.top_columns`; under a tag cap the best ``k`` first, and only
the rows over the cap again with room to skip); others through a two-stage numpy
selection (group maxima, then ``np.argpartition`` over the best groups).

>>> s = np.array([[0.1, 0.9, 0.5, -np.inf], [0.3, 0.2, 0.1, 0.0]], dtype=np.float32)
>>> [[int(i) for i in row] for row, _ in top_k(s, 2)]
[[1, 2], [0, 1]]
>>> tags = [(0,), (0,), (0,), (1,)]
>>> [[int(i) for i in row] for row, _ in top_k(s, 2, item_tags=tags, max_tag_share=0.5)]
[[1, 2], [0, 3]]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from homerec.kernels import top_columns
from homerec.typing import FloatArray, IndexArray

__all__ = ["tag_cap", "tag_matrix", "top_k"]


# below this many rows one argpartition per block is as fast as the two-stage selection
_TWO_STAGE_MIN_ROWS = 4


def tag_cap(k: int, max_tag_share: float | None) -> int | None:
    """How many items of one tag a page of ``k`` may hold (``None``: no cap).

    >>> tag_cap(10, 0.5), tag_cap(10, None), tag_cap(3, 0.1)
    (5, None, 1)
    """
    if max_tag_share is None or max_tag_share >= 1.0:
        return None
    return max(1, math.floor(max_tag_share * k))


def tag_matrix(item_tags: Sequence[Sequence[int]]) -> IndexArray:
    """The tags of every item as one ``(items, most tags)`` array padded with ``-1``.

    >>> tag_matrix([(0, 2), (), (1,)]).tolist()
    [[0, 2], [-1, -1], [1, -1]]
    """
    width = max((len(t) for t in item_tags), default=0) or 1
    out = np.full((len(item_tags), width), -1, np.intp)
    for i, tags in enumerate(item_tags):
        if tags:
            out[i, : len(tags)] = tags
    return out


def top_k(
    scores: FloatArray,
    k: int,
    *,
    item_tags: Sequence[Sequence[int]] | None = None,
    max_tag_share: float | None = None,
    overfetch: int = 4,
    tags: IndexArray | None = None,
    columns: npt.NDArray[np.integer[Any]] | None = None,
) -> list[tuple[IndexArray, FloatArray]]:
    """Best ``k`` columns of every row of ``scores`` (``-inf`` = not a candidate).

    Returns one ``(columns, scores)`` pair per row, best first; within a list, ties
    break by lower column (for float32 scores also at the cut-off; otherwise which of
    several items tied there makes the list is not specified). With a tag cap, up to
    ``overfetch * k`` best columns are considered and any column whose tags already
    fill their share is skipped. The cap is soft: when those columns cannot fill a page
    within it, the best skipped ones fill it (never a short page while candidates
    remain: ``overfetch * k`` columns hold at least ``k`` whenever the row does).
    The rows whose best ``k`` already respect the cap (most) are found at once from
    ``tags``, :func:`tag_matrix` of ``item_tags`` (rows beyond it: no tags), built here
    unless the caller keeps one. ``columns`` (same shape as ``scores``) names
    the item of every score when each row scores its own candidates: the lists then
    hold those items (ties break by position instead).
    """
    n_rows, n_cols = scores.shape
    cap = tag_cap(k, max_tag_share) if item_tags is not None else None
    want = k if cap is None else min(n_cols, k * overfetch)
    want = min(want, n_cols)
    if want <= 0 or n_rows == 0:
        empty = (np.zeros(0, np.intp), np.zeros(0, np.float32))
        return [empty for _ in range(n_rows)]
    if scores.dtype == np.float32:
        # compiled; with a tag cap, the best k of every row first: most rows respect the
        # cap already (a re-rank at 10,000 items: 998 in 1,000), and only the others are
        # ranked again with room to skip (want = overfetch·k, ~3x the cost per row)
        head = min(k, want)
        part, part_scores = _compiled_best(scores, head, columns)
        if head == want:
            return _finish(part, part_scores, k, cap, item_tags, tags)
        assert cap is not None and item_tags is not None  # want > k only under a tag cap
        if tags is None:
            tags = tag_matrix(item_tags)
        within = _rows_within(part, np.isfinite(part_scores), k, tags, cap)
        out = [(part[r], part_scores[r]) for r in range(n_rows)]
        again = np.flatnonzero(~within)
        if len(again):
            more = _compiled_best(scores[again], want, None if columns is None else columns[again])
            done = _finish(*more, k, cap, item_tags, tags)
            for r, row in zip(again.tolist(), done, strict=True):
                out[r] = row
        return out
    if n_rows == 1 and cap is None:
        return [_top_row(scores[0], want, None if columns is None else columns[0])]
    part, part_scores = _sorted_best(scores, want)
    if columns is not None:
        part = np.take_along_axis(columns, part, axis=1).astype(np.intp)
    return _finish(part, part_scores, k, cap, item_tags, tags)


def _compiled_best(
    scores: FloatArray, want: int, columns: npt.NDArray[np.integer[Any]] | None
) -> tuple[IndexArray, FloatArray]:
    """:func:`homerec.kernels.top_columns` of float32 ``scores`` (as items of ``columns``)."""
    n_rows = len(scores)
    part = np.empty((n_rows, want), np.int64)
    part_scores = np.empty((n_rows, want), np.float32)
    top_columns(np.ascontiguousarray(scores), want, part, part_scores)
    if columns is None:
        return part.astype(np.intp, copy=False), part_scores
    items: IndexArray = np.take_along_axis(columns, part, axis=1).astype(np.intp, copy=False)
    return items, part_scores


def _finish(
    part: IndexArray,
    part_scores: FloatArray,
    k: int,
    cap: int | None,
    item_tags: Sequence[Sequence[int]] | None,
    tags: IndexArray | None,
) -> list[tuple[IndexArray, FloatArray]]:
    """Rows of sorted best columns (``-inf``: none) cut to ``k`` lists under the tag cap."""
    n_rows, want = part.shape
    finite = np.isfinite(part_scores)
    all_finite = bool(finite.all())
    within = None
    if cap is not None and item_tags is not None and want >= k:
        if tags is None:
            tags = tag_matrix(item_tags)
        within = _rows_within(part, finite, k, tags, cap)
    out: list[tuple[IndexArray, FloatArray]] = []
    for r in range(n_rows):
        cols, vals = part[r], part_scores[r]
        if within is not None and within[r]:
            out.append((cols[:k], vals[:k]))
            continue
        if not all_finite:
            keep = finite[r]
            cols, vals = cols[keep], vals[keep]
        if cap is None or item_tags is None:
            out.append((cols[:k], vals[:k]))
            continue
        sel = np.asarray(_capped(cols.tolist(), item_tags, k, cap), dtype=np.intp)
        out.append((cols[sel], vals[sel]))
    return out


def _top_row(
    row: FloatArray, want: int, columns: npt.NDArray[np.integer[Any]] | None
) -> tuple[IndexArray, FloatArray]:
    """:func:`top_k` of one row without a tag cap, in numpy (scores other than float32)."""
    n_cols = len(row)
    cols = np.argpartition(-row, want - 1)[:want] if want < n_cols else np.arange(n_cols)
    vals = row[cols]
    order = np.lexsort((cols, -vals))
    cols, vals = cols[order], vals[order]
    keep = vals > -np.inf
    if columns is not None:
        cols = columns[cols].astype(np.intp)
    return cols[keep], vals[keep]


def _sorted_best(scores: FloatArray, want: int) -> tuple[IndexArray, FloatArray]:
    """The ``want`` best columns of every row and their scores, best first (lower column
    on ties): the numpy form of :func:`homerec.kernels.top_columns`, for scores other than
    float32."""
    n_rows, n_cols = scores.shape
    if want < n_cols:
        part = _best_columns(scores, want)
    else:
        part = np.broadcast_to(np.arange(n_cols), (n_rows, n_cols))
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores))  # every row at once: best first, lower column on ties
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(part_scores, order, axis=1)


def _best_columns(scores: FloatArray, want: int) -> IndexArray:
    """Columns of the ``want`` largest scores of every row (unordered; any of tied ones).

    Wide blocks go through a two-stage selection that reads every score once: the
    columns are split into ``m`` strided groups ``{j, j+m, j+2m, ...}`` of ``c`` columns,
    the group maxima are one vectorised ``max`` over a view, and the best ``want``
    elements of a row all lie in the ``want`` groups of largest maximum (a group whose
    maximum is beaten by ``want`` others holds nothing above the ``want``-th best). Only
    those ``want·c`` columns are then partitioned. About 3x faster than one
    ``argpartition`` over 10,000 columns (``homerec.ranking`` tests compare both).
    """
    n_rows, n_cols = scores.shape
    c = max(4, min(64, round(math.sqrt(n_cols / (2.0 * want)))))
    m = n_cols // c
    if n_rows < _TWO_STAGE_MIN_ROWS or m < 4 * want:
        # on the negation: with many tied scores (unseen items), selecting the smallest
        # few is ~9x faster in numpy's introselect than selecting the largest few
        return np.argpartition(-scores, want - 1, axis=1)[:, :want]
    group_max = scores[:, : m * c].reshape(n_rows, c, m).max(axis=1)
    groups = np.argpartition(-group_max, want - 1, axis=1)[:, :want]
    cols = (groups[:, :, None] + m * np.arange(c)).reshape(n_rows, want * c)
    if m * c < n_cols:  # the last few columns are candidates of every row
        tail = np.broadcast_to(np.arange(m * c, n_cols), (n_rows, n_cols - m * c))
        cols = np.concatenate((cols, tail), axis=1)
    vals = np.take_along_axis(scores, cols, axis=1)
    best = np.argpartition(-vals, want - 1, axis=1)[:, :want]
    out: IndexArray = np.take_along_axis(cols, best, axis=1)
    return out


def _rows_within(
    part: IndexArray, finite: npt.NDArray[np.bool_], k: int, tags: IndexArray, cap: int
) -> npt.NDArray[np.bool_]:
    """Rows whose first ``k`` columns are all candidates and keep every tag within ``cap``:
    their list is those ``k`` as they are."""
    ok: npt.NDArray[np.bool_] = _within_cap(part[:, :k], tags, cap) & finite[:, :k].all(axis=1)
    return ok


def _within_cap(head: IndexArray, tags: IndexArray, cap: int) -> npt.NDArray[np.bool_]:
    """Rows of ``head`` (item columns) in which no tag occurs more than ``cap`` times.

    >>> _within_cap(np.array([[0, 1], [0, 2]]), np.array([[5], [5], [6]]), 1).tolist()
    [False, True]
    """
    n_rows = len(head)
    known = head < len(tags)
    t = tags[np.where(known, head, 0)]
    t[~known] = -1
    flat = np.sort(t.reshape(n_rows, -1), axis=1)
    if cap >= flat.shape[1]:
        return np.ones(n_rows, bool)
    # sorted: a tag held more than cap times has an equal value cap places further on
    over = (flat[:, cap:] == flat[:, :-cap]) & (flat[:, cap:] >= 0)
    ok: npt.NDArray[np.bool_] = ~over.any(axis=1)
    return ok


def _capped(cols: list[int], item_tags: Sequence[Sequence[int]], k: int, cap: int) -> list[int]:
    """Positions in ``cols`` (best first) of the first ``k`` that keep every tag within ``cap``
    (the rows whose best ``k`` already do are found before, by :func:`_within_cap`).

    The cap is soft: a page it would leave short is filled with the best skipped ones:

    >>> _capped([0, 1, 2, 3], [(0,), (0,), (0,), (1,)], 2, 1)
    [0, 3]
    >>> _capped([0, 1, 2, 3], [(0,), (0,), (0,), (1,)], 3, 1)
    [0, 1, 3]
    """
    n_tags = len(item_tags)
    counts: dict[int, int] = {}
    chosen: list[int] = []
    skipped: list[int] = []
    for j, c in enumerate(cols):
        tags = item_tags[c] if c < n_tags else ()
        if any(counts.get(t, 0) >= cap for t in tags):
            if len(skipped) < k:
                skipped.append(j)
            continue
        for t in tags:
            counts[t] = counts.get(t, 0) + 1
        chosen.append(j)
        if len(chosen) == k:
            return chosen
    # the cap is soft: a page it would leave short is filled with the best items it
    # skipped (never a short page while candidates remain), best first as ever
    return sorted(chosen + skipped[: k - len(chosen)])

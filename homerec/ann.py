"""An approximate nearest-neighbour candidate stage for large catalogs (hnswlib), with an exact fallback.

Exact scoring ranks every item for every touched user: ``O(users × items × d)``
per batch, fine up to ~10⁴–10⁵ items. Beyond that a model can ask a
:class:`CandidateIndex` for each user's ``n`` items of largest inner product
``P[u]·Q[i]`` (a few hundred), then score only those candidates with its full
ranking function, and apply business rules to them.

The index is `hnswlib <https://github.com/nmslib/hnswlib>`_ (HNSW graphs; a
small, well-kept C++ library with a numpy API). ``method="exact"`` is the
same API over a numpy matrix product and ``argpartition``; it is also what
:func:`recall_at_k` compares against. When hnswlib is not installed,
``method="auto"`` falls back to exact.

Item vectors change online. :meth:`CandidateIndex.upsert` replaces the
vectors of changed items in place (hnswlib re-links the moved points), so a
model can refresh the index with the items a batch touched and rebuild it
from scratch now and then (:meth:`CandidateIndex.build`).

A bias term fits the inner product by augmentation: index ``[q_i, b_i]``
and query with ``[p_u, 1]`` (see :func:`augment_items`, :func:`augment_users`).

>>> rng = np.random.default_rng(0)
>>> items = rng.normal(size=(500, 16)).astype(np.float32)
>>> users = rng.normal(size=(20, 16)).astype(np.float32)
>>> index = CandidateIndex(16, method="exact").build(items)
>>> rows, scores = index.query(users, 10)
>>> rows.shape, bool((scores[:, :-1] >= scores[:, 1:]).all())
((20, 10), True)
>>> recall_at_k(rows, exact_top_n(users, items, 10))
1.0
"""

from __future__ import annotations

import importlib
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt

from homerec.errors import ConfigError

__all__ = [
    "CandidateIndex",
    "Method",
    "Space",
    "augment_items",
    "augment_users",
    "exact_top_n",
    "hnswlib_available",
    "recall_at_k",
]

Method = Literal["auto", "hnsw", "exact"]
Space = Literal["ip", "cosine", "l2"]
FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


def hnswlib_available() -> bool:
    """Whether the ``hnswlib`` package can be imported."""
    try:
        importlib.import_module("hnswlib")
    except ImportError:
        return False
    return True


def _as_matrix(x: npt.ArrayLike, dim: int, what: str) -> FloatArray:
    a = np.ascontiguousarray(x, dtype=np.float32)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != dim:
        raise ConfigError(f"{what} must have shape (n, {dim}), got {a.shape}")
    return a


class CandidateIndex:
    """Top-``n`` items by similarity to a user vector; ``hnsw`` (approximate) or ``exact``.

    Rows are the caller's own item rows (``ids``), so results index the
    model's tables directly. Similarity: ``ip`` (inner product, larger is
    better), ``cosine``, or ``l2`` (scores are negated squared distances, so
    larger is better for every space).

    Parameters (hnsw): ``m`` (graph degree), ``ef_construction`` (build-time
    beam), ``ef_search`` (query-time beam; raised to ``n`` when smaller).
    Larger values: better recall, slower.

    Inner product is not a metric, and HNSW graphs search it poorly. With
    ``mips=True`` (the default for ``ip``) the index uses the classic
    reduction to L2 (Bachrach et al., 2014): an item ``x`` is stored as
    ``[x, √(M² − |x|²)]`` with ``M`` the largest item norm (times
    ``norm_headroom``, so later upserts fit), a query ``q`` as ``[q, 0]``;
    then ``|q' − x'|² = |q|² + M² − 2 q·x``, so the nearest neighbour is the
    largest inner product. An upsert with a norm above ``M`` rebuilds the
    index with a larger ``M`` (rare thanks to the headroom).
    """

    def __init__(
        self,
        dim: int,
        *,
        space: Space = "ip",
        method: Method = "auto",
        m: int = 16,
        ef_construction: int = 200,
        ef_search: int = 128,
        threads: int = 1,
        mips: bool = True,
        norm_headroom: float = 1.25,
        seed: int = 0,
    ) -> None:
        if dim < 1:
            raise ConfigError(f"dim must be >= 1, got {dim}")
        if space not in ("ip", "cosine", "l2"):
            raise ConfigError(f"space must be 'ip', 'cosine' or 'l2', got {space!r}")
        if method not in ("auto", "hnsw", "exact"):
            raise ConfigError(f"method must be 'auto', 'hnsw' or 'exact', got {method!r}")
        if method == "auto":
            method = "hnsw" if hnswlib_available() else "exact"
        elif method == "hnsw" and not hnswlib_available():
            raise ConfigError("method 'hnsw' needs the hnswlib package (pip install hnswlib)")
        self.dim = dim
        self.space: Space = space
        self.method: Method = method
        self.m = m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.threads = threads
        self.mips = mips
        self.norm_headroom = norm_headroom
        self.seed = seed
        self._reduce = method == "hnsw" and space == "ip" and mips
        self._max_norm = 0.0
        self._index: Any = None
        self._capacity = 0
        # exact: a dense table indexed by row, with a validity mask
        self._vectors = np.zeros((0, dim), np.float32)
        self._valid = np.zeros(0, bool)

    def __len__(self) -> int:
        if self.method == "hnsw":
            return 0 if self._index is None else int(self._index.get_current_count())
        return int(self._valid.sum())

    # -- building ---------------------------------------------------------
    def build(self, vectors: npt.ArrayLike, ids: npt.ArrayLike | None = None) -> Self:
        """(Re)build the index from scratch over ``vectors`` (rows ``ids``, default ``0..n-1``)."""
        x = _as_matrix(vectors, self.dim, "vectors")
        rows = np.arange(len(x), dtype=np.int64) if ids is None else np.asarray(ids, np.int64)
        if rows.shape != (len(x),):
            raise ConfigError("ids must have one row number per vector")
        self._index = None
        self._capacity = 0
        self._vectors = np.zeros((0, self.dim), np.float32)
        self._valid = np.zeros(0, bool)
        if self._reduce:
            self._max_norm = self._norm_bound(x)
        if self.method == "hnsw":
            self._new_hnsw(max(16, len(x)))
        self.upsert(x, rows)
        return self

    def _new_hnsw(self, capacity: int) -> None:
        hnswlib = importlib.import_module("hnswlib")
        if self._reduce:
            self._index = hnswlib.Index(space="l2", dim=self.dim + 1)
        else:
            self._index = hnswlib.Index(space=self.space, dim=self.dim)
        self._index.init_index(
            max_elements=capacity,
            ef_construction=self.ef_construction,
            M=self.m,
            random_seed=self.seed,
        )
        self._index.set_ef(self.ef_search)
        self._index.set_num_threads(self.threads)
        self._capacity = capacity

    def upsert(self, vectors: npt.ArrayLike, ids: npt.ArrayLike) -> None:
        """Insert new rows or replace the vectors of existing ones."""
        x = _as_matrix(vectors, self.dim, "vectors")
        rows = np.asarray(ids, np.int64).reshape(-1)
        if len(rows) != len(x):
            raise ConfigError("ids must have one row number per vector")
        if len(rows) and rows.min() < 0:
            raise ConfigError("ids must be non-negative row numbers")
        if not len(rows):
            return
        if self.method == "hnsw":
            if self._index is None:
                self._new_hnsw(max(16, len(rows)))
            need = int(self._index.get_current_count()) + len(rows)
            if need > self._capacity:
                self._capacity = max(need, 2 * self._capacity)
                self._index.resize_index(self._capacity)
            if self._reduce:
                if not self.fits(x) and len(self) > 0:
                    self._rebuild_with(x, rows)
                    return
                x = self._lift_items(x)
            self._index.add_items(x, rows, num_threads=self.threads)
            return
        top = int(rows.max()) + 1
        if top > len(self._vectors):
            cap = max(top, 2 * len(self._vectors))
            v = np.zeros((cap, self.dim), np.float32)
            v[: len(self._vectors)] = self._vectors
            ok = np.zeros(cap, bool)
            ok[: len(self._valid)] = self._valid
            self._vectors, self._valid = v, ok
        if self.space == "cosine":
            x = _unit(x)
        self._vectors[rows] = x
        self._valid[rows] = True

    def fits(self, vectors: npt.ArrayLike) -> bool:
        """Whether :meth:`upsert` of ``vectors`` keeps this index (no rebuild with a
        larger norm bound; always True unless inner product is reduced to L2)."""
        if not self._reduce or self._index is None:
            return True
        norms = _norms(_as_matrix(vectors, self.dim, "vectors"))
        return not len(norms) or float(norms.max()) <= self._max_norm

    def _rebuild_with(self, x: FloatArray, rows: IntArray) -> None:
        """Rebuild (new ``M``) from the stored vectors, with ``rows`` replaced by ``x``."""
        old = np.asarray(self._index.get_ids_list(), np.int64)
        keep = old[~np.isin(old, rows)]
        vectors = np.zeros((0, self.dim), np.float32)
        if len(keep):
            stored = np.asarray(self._index.get_items(keep), np.float32)
            vectors = stored.reshape(len(keep), self.dim + 1)[:, : self.dim]
        self.build(np.vstack([vectors, x]), np.concatenate([keep, rows]))

    def _norm_bound(self, x: FloatArray) -> float:
        """``M`` of the MIPS transform for items ``x``: their largest norm, with headroom."""
        return float(_norms(x).max(initial=0.0)) * self.norm_headroom or 1.0

    def _lift_items(self, x: FloatArray) -> FloatArray:
        if self._max_norm <= 0.0:  # upserts into a never-built index
            self._max_norm = self._norm_bound(x)
        sq = self._max_norm**2 - (x.astype(np.float64) ** 2).sum(axis=1)
        extra = np.sqrt(np.maximum(sq, 0.0)).astype(np.float32)[:, None]
        return np.ascontiguousarray(np.hstack([x, extra]))

    # -- querying ---------------------------------------------------------
    def query(self, queries: npt.ArrayLike, n: int) -> tuple[IntArray, FloatArray]:
        """``(rows, scores)``, each ``(len(queries), n)``, best first (larger score is better).

        When the index holds fewer than ``n`` items, missing slots are ``-1``
        with score ``-inf``.
        """
        q = _as_matrix(queries, self.dim, "queries")
        b = len(q)
        size = len(self)
        rows = np.full((b, n), -1, np.int64)
        scores = np.full((b, n), -np.inf, np.float32)
        if n <= 0 or size == 0 or b == 0:
            return rows[:, : max(n, 0)], scores[:, : max(n, 0)]
        k = min(n, size)
        if self.method == "hnsw":
            self._index.set_ef(max(self.ef_search, k))
            if self._reduce:
                lifted = np.hstack([q, np.zeros((b, 1), np.float32)])
                labels, dist = self._index.knn_query(lifted, k=k, num_threads=self.threads)
                rows[:, :k] = labels.astype(np.int64)
                # |q'-x'|² = |q|² + M² - 2 q·x
                qq = (q.astype(np.float64) ** 2).sum(axis=1, keepdims=True)
                scores[:, :k] = (qq + self._max_norm**2 - dist) / 2.0
                return rows, scores
            labels, dist = self._index.knn_query(q, k=k, num_threads=self.threads)
            rows[:, :k] = labels.astype(np.int64)
            # hnswlib: ip -> 1 - <q, x>; cosine -> 1 - cos; l2 -> squared distance
            scores[:, :k] = (1.0 - dist) if self.space in ("ip", "cosine") else -dist
            return rows, scores
        top, top_scores = _exact(q, self._vectors, self._valid, k, self.space)
        rows[:, :k] = top
        scores[:, :k] = top_scores
        return rows, scores


def _norms(x: FloatArray) -> npt.NDArray[np.float64]:
    """Euclidean norm of every row, in float64."""
    out: npt.NDArray[np.float64] = np.sqrt((x.astype(np.float64) ** 2).sum(axis=1))
    return out


def _unit(x: FloatArray) -> FloatArray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    out: FloatArray = np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
    return out


def _exact(
    q: FloatArray, table: FloatArray, valid: npt.NDArray[np.bool_], k: int, space: Space
) -> tuple[IntArray, FloatArray]:
    if space == "cosine":
        q = _unit(q)
    if space == "l2":
        s = (
            2.0 * (q @ table.T)
            - (table * table).sum(axis=1)[None, :]
            - (q * q).sum(axis=1)[:, None]
        )
    else:
        s = q @ table.T
    s = s.astype(np.float32, copy=False)
    s[:, ~valid] = -np.inf
    part = np.argpartition(-s, k - 1, axis=1)[:, :k]
    ps = np.take_along_axis(s, part, axis=1)
    order = np.argsort(-ps, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1).astype(np.int64), np.take_along_axis(
        ps, order, axis=1
    )


def exact_top_n(queries: npt.ArrayLike, vectors: npt.ArrayLike, n: int) -> IntArray:
    """Rows of the ``n`` largest inner products ``queries @ vectors.T``, best first (ground truth)."""
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    q = _as_matrix(queries, v.shape[1], "queries")
    k = min(n, len(v))
    rows, _ = _exact(q, v, np.ones(len(v), bool), k, "ip")
    return rows


def recall_at_k(found: npt.ArrayLike, truth: npt.ArrayLike) -> float:
    """Mean over queries of ``|found ∩ truth| / |truth|`` (``-1`` entries ignored).

    >>> recall_at_k([[1, 2, 3]], [[3, 2, 9]])
    0.6666666666666666
    """
    f = np.asarray(found)
    t = np.asarray(truth)
    if f.ndim != 2 or t.ndim != 2 or len(f) != len(t):
        raise ConfigError("found and truth must be (queries, k) arrays of the same length")
    hits = 0
    total = 0
    for fr, tr in zip(f.tolist(), t.tolist(), strict=True):
        want = {x for x in tr if x >= 0}
        hits += len(want.intersection(fr))
        total += len(want)
    return hits / total if total else 1.0


def augment_items(vectors: npt.ArrayLike, bias: npt.ArrayLike) -> FloatArray:
    """``[q_i, b_i]``: item vectors with their bias as a last column (for ``p·q + b`` search)."""
    v = np.asarray(vectors, np.float32)
    b = np.asarray(bias, np.float32).reshape(-1, 1)
    return np.ascontiguousarray(np.hstack([v, b]))


def augment_users(vectors: npt.ArrayLike) -> FloatArray:
    """``[p_u, 1]``: user vectors with a constant 1, to pair with :func:`augment_items`."""
    v = np.asarray(vectors, np.float32)
    if v.ndim == 1:
        v = v[None, :]
    return np.ascontiguousarray(np.hstack([v, np.ones((len(v), 1), np.float32)]))

"""An approximate candidate stage for a model's re-rank: an ANN index over its item vectors.

Exact re-ranking scores every item for every touched user; its cost grows with
the catalog. With a candidate stage the
model asks :class:`AnnCandidates` for each user's ``n`` items of largest
inner product between the user's and the items' vectors (its score's dense
part), adds the items its sparse terms reach, and computes the full score on
those few hundred items only.

The index (:class:`homerec.ann.CandidateIndex`, hnswlib) is built from a copy
of the item vectors on a background thread (hnswlib releases the GIL while it
builds), and rebuilt whenever ``rebuild_every`` model versions (events) have
passed since the copy it was built from. Queries use the newest finished
index: the candidates may be a little stale, the scores of the candidates are
not (the model scores them with its current tables). Until a first index is
ready, and when the vectors' width changed since it was built (new tags or
profile groups; the next refresh then rebuilds at once), :meth:`AnnCandidates.query`
returns None and the model scores exactly. Items added to the catalog after a
build are inserted into the current index when first seen (:meth:`AnnCandidates.
extend`), so they can be proposed before the next rebuild.

>>> rng = np.random.default_rng(0)
>>> items = rng.normal(size=(300, 8)).astype(np.float32)
>>> stage = AnnCandidates(20, rebuild_every=100, method="exact")
>>> stage.query(items[:2]) is None  # nothing built yet
True
>>> stage.refresh(0, lambda: items)
True
>>> stage.wait()
>>> rows = stage.query(items[:2])
>>> rows.shape
(2, 20)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from homerec.ann import CandidateIndex, Method
from homerec.errors import ConfigError

__all__ = ["AnnCandidates"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


class AnnCandidates:
    """The ``n`` rows of largest inner product per query, from a background-built index.

    ``method`` is :class:`~homerec.ann.CandidateIndex`'s (``auto``: hnswlib when
    installed, else exact); ``ef_search`` its query beam.
    """

    def __init__(
        self,
        n: int,
        *,
        rebuild_every: int = 20_000,
        method: Method = "auto",
        ef_search: int = 128,
    ) -> None:
        if n < 1:
            raise ConfigError(f"ann_candidates must be at least 1, got {n}")
        if rebuild_every < 1:
            raise ConfigError(f"ann_rebuild_every must be at least 1, got {rebuild_every}")
        self.n = n
        self.rebuild_every = rebuild_every
        self.method: Method = method
        self.ef_search = ef_search
        self._index: CandidateIndex | None = None
        self._built_version = -1  # model version of the copy the index was built from
        self._rows = 0  # item rows the current index holds (0..rows-1)
        # the index no longer serves (a new item beyond its norm bound, or the vectors'
        # width changed): rebuild at the next refresh, however recent it is
        self._stale = False
        self._building: threading.Thread | None = None
        self._lock = threading.Lock()
        self.builds = 0
        self.last_build_s = 0.0

    @property
    def ready(self) -> bool:
        """An index has been built (queries may return candidates)."""
        return self._index is not None

    def refresh(self, version: int, vectors: Callable[[], FloatArray]) -> bool:
        """Start a rebuild from ``vectors()`` (called now, on this thread: it must return
        a copy) if none is running and the index is missing or ``rebuild_every``
        versions old. True if a build started."""
        if self._building is not None and self._building.is_alive():
            return False
        old = version - self._built_version >= self.rebuild_every
        if self._index is not None and not old and not self._stale:
            return False
        self._stale = False
        snapshot = np.ascontiguousarray(vectors(), dtype=np.float32)
        self._building = threading.Thread(
            target=self._build, args=(snapshot, version), name="homerec-ann-build", daemon=True
        )
        self._building.start()
        return True

    def _build(self, snapshot: FloatArray, version: int) -> None:
        started = time.perf_counter()
        try:
            index = CandidateIndex(
                snapshot.shape[1], method=self.method, ef_search=self.ef_search
            ).build(snapshot)
        except Exception:  # noqa: BLE001 - a build thread must report, not vanish
            log.exception("candidate index build failed; re-ranking stays exact until one works")
            return
        with self._lock:
            self._index, self._built_version, self._rows = index, version, len(snapshot)
        self.builds += 1
        self.last_build_s = time.perf_counter() - started
        log.info(
            "candidate index built: %d items x %d columns in %.2fs",
            snapshot.shape[0],
            snapshot.shape[1],
            self.last_build_s,
        )

    @property
    def rows(self) -> int:
        """Item rows the current index holds."""
        return self._rows

    def extend(self, n_items: int, vectors: Callable[[int, int], FloatArray]) -> int:
        """Insert items the current index does not hold yet (rows ``rows..n_items-1``,
        new catalog items) from ``vectors(lo, hi)``, so they can be proposed before the
        next rebuild; returns how many were added. An item whose vector does not fit the
        index's norm bound is left to a rebuild at the next :meth:`refresh` instead."""
        with self._lock:
            index, have = self._index, self._rows
        if index is None or n_items <= have:
            return 0
        x = np.ascontiguousarray(vectors(have, n_items), dtype=np.float32)
        if x.shape[1] != index.dim:
            self._stale = True  # the width changed: exact until the rebuild it asks for
            return 0
        if not index.fits(x):
            self._stale = True
            return 0
        index.upsert(x, np.arange(have, n_items))
        with self._lock:
            if self._index is index:
                self._rows = n_items
        return n_items - have

    def wait(self, timeout_s: float | None = None) -> None:
        """Block until a build in flight (if any) is finished."""
        if self._building is not None:
            self._building.join(timeout_s)

    def query(self, queries: FloatArray, *, extra: int = 0) -> IntArray | None:
        """``(len(queries), n + extra)`` item rows (``-1`` = none), or None when no index
        of the queries' width is ready (score exactly then). ``extra``: room for items
        the caller will exclude (e.g. the ones a user has seen)."""
        with self._lock:
            index = self._index
        if index is None:
            return None
        if index.dim != queries.shape[1]:
            self._stale = True  # new tags or profile groups: rebuild at the next refresh
            return None
        rows, _ = index.query(queries, min(self.n + extra, max(1, len(index))))
        return rows

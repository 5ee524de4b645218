"""What a closed-loop run measures: CTR, exposure of the catalog and of new items, page faults.

:class:`Tally` accumulates during a run; :meth:`Tally.report` freezes it into a
:class:`~homerec.simulation.report.SimulationReport`-ready dictionary of figures.

>>> gini([1, 1, 1, 1])
0.0
>>> gini([0, 0, 0, 4])
0.75
>>> censored_quantile([3, 5, None], 0.5), censored_quantile([3, None, None], 0.5)
(5.0, None)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Tally", "WindowPoint", "censored_quantile", "gini"]

I64 = npt.NDArray[np.int64]


def gini(values: Sequence[float] | npt.NDArray[np.float64] | I64) -> float:
    """Gini coefficient of non-negative ``values`` (0: all equal; → 1: one takes all)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n, total = len(x), float(x.sum())
    if n == 0 or total <= 0:
        return 0.0
    ranks = np.arange(1, n + 1, dtype=np.float64)
    return float(2.0 * np.sum(ranks * x) / (n * total) - (n + 1) / n)


def censored_quantile(waits: Sequence[float | None], q: float) -> float | None:
    """The ``q`` quantile of ``waits`` where ``None`` (never happened) counts as longer than
    any; ``None`` when the quantile falls among those (lower interpolation: an observed
    value, never a mean of one and infinity)."""
    if not waits:
        return None
    x = np.sort(np.array([math.inf if w is None else float(w) for w in waits]))
    value = float(x[int(math.floor(q * (len(x) - 1)))])
    return None if math.isinf(value) else value


@dataclass(frozen=True, slots=True)
class WindowPoint:
    """The run's state at the end of a window of sessions."""

    #: Sessions played so far.
    sessions: int
    #: Clicks per impression within the window.
    ctr: float
    #: Share of the items ever in the catalog so far that have been shown at least once.
    coverage: float
    #: Share of the window's impressions that went to items added during the run.
    new_impression_share: float
    #: Share of the items added during the run so far that have been shown at least once.
    new_items_shown: float


class Tally:
    """Counters of one run over ``n_items_total`` possible items and ``n_sessions`` sessions."""

    def __init__(self, n_sessions: int, n_items_total: int, k: int) -> None:
        self.k = k
        self.clicks = np.zeros(n_sessions, np.int64)
        self.impressions = np.zeros(n_sessions, np.int64)
        self.new_impressions = np.zeros(n_sessions, np.int64)
        self.item_impressions = np.zeros(n_items_total, np.int64)
        self.first_shown = np.full(n_items_total, -1, np.int64)
        #: Session of arrival of the items added during the run (-1: initial or not yet).
        self.added_at = np.full(n_items_total, -1, np.int64)
        self.n_known = 0
        self.pages = 0
        self.short_pages = 0
        self.inactive_shown = 0
        self.windows: list[WindowPoint] = []
        self._window_start = 0

    def add_items(self, items: Sequence[int] | I64, session: int) -> None:
        """Items that entered the catalog before ``session`` (0: the initial catalog)."""
        idx = np.asarray(items, dtype=np.int64)
        if session > 0:
            self.added_at[idx] = session
        if len(idx):
            self.n_known = max(self.n_known, int(idx.max()) + 1)

    def record_pages(
        self,
        sessions: Sequence[int] | I64,
        pages: Sequence[Sequence[int]],
        eligible: Sequence[int] | I64,
        active: npt.NDArray[np.bool_],
    ) -> None:
        """Pages shown in ``sessions`` (item indices); ``eligible``: the candidates each
        page could have held; ``active``: the catalog's active flags when they were shown."""
        for s, page, n_ok in zip(
            np.asarray(sessions).tolist(), pages, np.asarray(eligible).tolist(), strict=True
        ):
            self.pages += 1
            if len(page) < self.k and n_ok >= self.k:
                self.short_pages += 1
            if not page:
                continue
            idx = np.asarray(page, dtype=np.int64)
            self.impressions[s] += len(idx)
            self.inactive_shown += int((~active[idx]).sum())
            self.new_impressions[s] += int((self.added_at[idx] > 0).sum())
            np.add.at(self.item_impressions, idx, 1)
            first = self.first_shown[idx] < 0
            self.first_shown[idx[first]] = s

    def record_clicks(self, sessions: Sequence[int] | I64, clicks: Sequence[int] | I64) -> None:
        self.clicks[np.asarray(sessions, dtype=np.int64)] += np.asarray(clicks, dtype=np.int64)

    def close_window(self, end: int) -> None:
        """Sessions ``[previous end, end)`` are over: add a point to the time series."""
        a = self._window_start
        imp = int(self.impressions[a:end].sum())
        n = self.n_known
        new = self.added_at[:n] > 0
        shown = self.first_shown[:n] >= 0
        self.windows.append(WindowPoint(
            sessions=end,
            ctr=_ratio(int(self.clicks[a:end].sum()), imp),
            coverage=_ratio(int(shown.sum()), n),
            new_impression_share=_ratio(int(self.new_impressions[a:end].sum()), imp),
            new_items_shown=_ratio(int((shown & new).sum()), int(new.sum())),
        ))  # fmt: skip
        self._window_start = end

    def ctr(self, start: int = 0, end: int | None = None) -> float:
        """Clicks per impression over sessions ``[start, end)``."""
        return _ratio(int(self.clicks[start:end].sum()), int(self.impressions[start:end].sum()))

    def new_item_waits(self) -> list[int | None]:
        """Sessions from arrival to first impression of every item added during the run
        (``None``: never shown)."""
        new = np.flatnonzero(self.added_at > 0)
        return [
            None if self.first_shown[i] < 0 else int(self.first_shown[i] - self.added_at[i])
            for i in new.tolist()
        ]

    def coverage(self) -> float:
        """Share of the items ever in the catalog that were shown at least once."""
        return _ratio(int((self.first_shown[: self.n_known] >= 0).sum()), self.n_known)

    def impression_gini(self) -> float:
        """Gini of impressions over every item ever in the catalog (unshown ones included)."""
        return gini(self.item_impressions[: self.n_known])


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0

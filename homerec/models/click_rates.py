"""Per-item exposure and clicks on it: how often each item was shown, and taken when shown.

A model that publishes pages knows where it put every item (the pages it published, or
the ``impression`` events once the front end reports them): :attr:`ClickRates.shown`
counts each showing weighted by how likely its position was looked at
(:func:`homerec.exploration.examination`). :attr:`ClickRates.clicks` counts the items
taken from a page: the user's first positive event on an item of the page last shown
to them. Their ratio is the item's click rate with the position bias divided out, what
popularity cannot tell apart from how often the item was shown.

:meth:`ClickRates.lift` is that rate against the overall one, shrunk by a prior of
``prior`` clicks at the overall rate: ``log((c + prior) / (r·e + prior))`` with ``c``
the item's clicks, ``e`` its exposure and ``r = C / E`` the overall rate. It is 0 for an
item with no exposure and no click, and for every item while nothing was clicked from a
page (an offline replay, which shows no page, leaves it at 0).

>>> rates = ClickRates.empty()
>>> rates.grow(3)
>>> rates.add_shown(np.array([0, 1, 2]), np.array([1.0, 1.0, 1.0]))
>>> rates.add_shown(np.array([0, 1]), np.array([1.0, 1.0]))
>>> rates.add_click(0)
>>> rates.add_click(0)
>>> [round(float(x), 3) for x in rates.lift(3, prior=1.0)]
[0.511, -0.588, -0.336]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from homerec.models.storage import grow
from homerec.typing import AnyIntArray, FloatArray

__all__ = ["ClickRates", "rate_lift"]


def rate_lift(
    clicks: npt.NDArray[np.floating[Any]], shown: npt.NDArray[np.floating[Any]], rate: float,
    prior: float,
) -> npt.NDArray[np.float64]:  # fmt: skip
    """``log((clicks + prior) / (rate·shown + prior))`` elementwise, in float64 (the
    compiled ranker step computes the same at its columns)."""
    c = clicks.astype(np.float64)
    e = shown.astype(np.float64)
    out: npt.NDArray[np.float64] = np.log((c + prior) / (rate * e + prior))
    return out


@dataclass(slots=True)
class ClickRates:
    """Per item row: ``shown`` (examination-weighted exposure) and ``clicks`` (taken from
    a page), float32 (capacity may exceed the items known), with their totals over all
    rows."""

    shown: FloatArray
    clicks: FloatArray
    total_shown: float = 0.0
    total_clicks: float = 0.0

    @classmethod
    def empty(cls) -> ClickRates:
        return cls(np.zeros(0, np.float32), np.zeros(0, np.float32))

    def grow(self, need: int) -> None:
        """Make room for item rows ``0..need-1``."""
        self.shown = grow(self.shown, need)
        self.clicks = grow(self.clicks, len(self.shown))

    def add_shown(self, rows: AnyIntArray, weights: npt.NDArray[np.floating[Any]]) -> None:
        """Item ``rows`` (distinct) were shown, each with examination weight ``weights``."""
        w = weights.astype(np.float32)
        self.shown[rows] += w
        self.total_shown += float(w.sum(dtype=np.float64))

    def add_click(self, i: int) -> None:
        """Item row ``i`` was taken from a page."""
        self.clicks[i] += 1.0
        self.total_clicks += 1.0

    def set_row(self, i: int, shown: float, clicks: float) -> None:
        """Install item row ``i``'s counts (a restored item), keeping the totals."""
        self.total_shown += shown - float(self.shown[i])
        self.total_clicks += clicks - float(self.clicks[i])
        self.shown[i] = shown
        self.clicks[i] = clicks

    @property
    def rate(self) -> float:
        """The overall click rate ``C / E`` (0 before anything was shown)."""
        return self.total_clicks / self.total_shown if self.total_shown > 0 else 0.0

    def lift(self, n: int, prior: float) -> npt.NDArray[np.float64]:
        """The shrunk log click-rate lift of the first ``n`` items (see the module
        docstring); ``prior``: pseudo-clicks at the overall rate, > 0."""
        return rate_lift(self.clicks[:n], self.shown[:n], self.rate, prior)

    # -- state ---------------------------------------------------------------
    def state(self, n_items: int) -> dict[str, Any]:
        """The first ``n_items`` rows (copies), under the keys of ``state_dict``."""
        return {
            "item_shown": self.shown[:n_items].copy(),
            "item_clicks": self.clicks[:n_items].copy(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], n_items: int) -> ClickRates:
        """Inverse of :meth:`state` (states written before a key: zeros); the totals are
        summed again."""
        shown = np.array(state.get("item_shown", np.zeros(n_items)), np.float32)
        clicks = np.array(state.get("item_clicks", np.zeros(n_items)), np.float32)
        return cls(
            shown, clicks, float(shown.sum(dtype=np.float64)), float(clicks.sum(dtype=np.float64))
        )

"""Exponentially decayed counts per row, on an event clock, without touching every row per tick.

Each addition is stored scaled by ``2 ** (clock / half_life)``; reads divide by
the current scale. When the scale grows large everything is rebased once.

>>> c = DecayedCounts(half_life=2.0)
>>> c.ensure(2)
>>> c.add(0)
>>> c.tick(2)
>>> c.add(1)
>>> c.values(2).tolist()
[0.5, 1.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from homerec.errors import ConfigError
from homerec.models.storage import grow

__all__ = ["DecayedCounts"]

_REBASE = 60.0  # rebase when the stored scale reaches 2**60


class DecayedCounts:
    """Counts that halve every ``half_life`` ticks of :meth:`tick`."""

    __slots__ = ("half_life", "_raw", "_clock")

    def __init__(self, half_life: float) -> None:
        if not half_life > 0:
            raise ConfigError("half_life must be positive")
        self.half_life = float(half_life)
        self._raw = np.zeros(0, np.float64)
        self._clock = 0.0  # ticks since the last rebase

    def ensure(self, n: int) -> None:
        self._raw = grow(self._raw, n)

    def tick(self, n: float = 1.0) -> None:
        self._clock += n
        if self._clock / self.half_life > _REBASE:
            self._raw *= 2.0 ** (-self._clock / self.half_life)
            self._clock = 0.0

    def add(self, row: int, weight: float = 1.0) -> None:
        self._raw[row] += weight * 2.0 ** (self._clock / self.half_life)

    def add_many(self, rows: npt.NDArray[np.integer[Any]], weights: npt.NDArray[Any]) -> None:
        """:meth:`add` of ``weights`` (values as of now) at ``rows`` (which may repeat)."""
        np.add.at(
            self._raw, rows, np.asarray(weights, np.float64) * 2.0 ** (self._clock / self.half_life)
        )

    def values(self, n: int) -> npt.NDArray[np.float64]:
        raw, scale = self.raw()
        out: npt.NDArray[np.float64] = raw[:n] * scale
        return out

    def values_at(self, rows: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.float64]:
        """:meth:`values` of some rows only (what a sampled step needs)."""
        raw, scale = self.raw()
        out: npt.NDArray[np.float64] = raw[rows] * scale
        return out

    def raw(self) -> tuple[npt.NDArray[np.float64], float]:
        """The stored sums and the factor that turns them into :meth:`values` (no copy)."""
        return self._raw, 2.0 ** (-self._clock / self.half_life)

    def set_raw(self, raw: npt.NDArray[np.float64], clock: float) -> None:
        """Put back what :meth:`raw` and :attr:`clock` were (first ``len(raw)`` rows; rows
        beyond are zeroed): a replica's canonical state (:mod:`homerec.models.hybrid.sharing`)."""
        self._raw[: len(raw)] = raw
        self._raw[len(raw) :] = 0.0
        self._clock = float(clock)

    @property
    def clock(self) -> float:
        """Ticks since the last rebase."""
        return self._clock

    def state(self, n: int) -> dict[str, Any]:
        """Raw sums and clock as they are (bit-exact: learning after a restore matches)."""
        return {"half_life": self.half_life, "raw": self._raw[:n].copy(), "clock": self._clock}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> DecayedCounts:
        """Inverse of :meth:`state` (also reads the older ``values`` form, clock 0).

        >>> c = DecayedCounts(3.0); c.ensure(1); c.add(0); c.tick(2)
        >>> d = DecayedCounts.from_state(c.state(1))
        >>> d.add(0); c.add(0); bool((d.values(1) == c.values(1)).all())
        True
        """
        c = cls(float(state["half_life"]))
        if "raw" in state:
            c._raw = np.array(state["raw"], np.float64)
            c._clock = float(state["clock"])
        else:
            c._raw = np.array(state["values"], np.float64)
        return c

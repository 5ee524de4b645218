"""The first list of a user without history: long-horizon popularity, tilted to their groups.

A user with no event yet has none of the planes that make the hybrid personal
(embedding, co-occurrence, content): the ranker's score of such a user is made of
the item-only terms, and those are learned for another question. The ranker steps on
events as they happen, so its popularity weight sits on the *fast* plane (what was
popular over the last ``pop_half_life`` events: it predicts what a user who is active
right now does next), and its item biases (``b``, the per-tag biases) are fitted to
users with history. A new user's first list is computed once and shown until their
first event, possibly long after: measured on ML-100K's temporal split, that list was
worse than plain all-time popularity (docs/quality.md).

So a user with no event is scored by

``score(i) = pop_slow(i) + β · demo(i)``

* ``pop_slow``: ``log1p`` of the long-half-life decayed count (``pop_slow_half_life``):
  the long run, which a list shown for a while needs, without the all-time count's
  blindness to what stopped being watched;
* ``demo``: the log lift of the item among the user's profile groups (zero without a
  profile), so that ``β = 0`` is the overall popularity and ``β = 1`` the groups' own
  popularity (a geometric blend in between);
* ``β`` is validated online, not set: :class:`ColdStartBlend` scores every candidate
  ``β`` of :data:`BETAS` on the positives of users who have a profile and fewer than
  ``cold_scale`` events (the rank the rule would have given the item, before the event
  is learned) and uses the best so far; 0 before any such case.

Without a profile the list is the long-horizon popularity order. The ranker itself is
unchanged (it keeps learning from every event, a user's first ones included); only the
scoring of users with no event uses this rule.

>>> blend = ColdStartBlend.empty()
>>> blend.beta
0.0
>>> blend.add(np.array([0.5, 0.9, 0.7, 0.4, 0.1]))
>>> blend.beta, blend.cases
(0.25, 1)
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["BETAS", "BETA_VALUES", "VALIDATION_SAMPLE", "ColdStartBlend"]

#: The candidate weights of the demo lift, from the overall to the groups' popularity.
BETAS = (0.0, 0.25, 0.5, 0.75, 1.0)
#: :data:`BETAS` as an array (the compiled count's argument)
BETA_VALUES = np.array(BETAS)
_BETA_COLUMN = BETA_VALUES[:, None]
#: Items a validation case ranks the positive among at most (evenly spread over the
#: candidates beyond that: a case costs the same in a large catalog).
VALIDATION_SAMPLE = 1024


@dataclass(slots=True)
class ColdStartBlend:
    """The running validation of the candidate ``β`` s: ``gain[b]`` sums, over the
    ``cases`` seen, ``1/log2(2 + rank)`` of the positive under ``BETAS[b]`` (its DCG
    with no cut-off, rank 0-based among the user's candidates)."""

    gain: npt.NDArray[np.float64]
    cases: int

    @classmethod
    def empty(cls) -> ColdStartBlend:
        return cls(np.zeros(len(BETAS), np.float64), 0)

    @property
    def beta(self) -> float:
        """The best ``β`` so far (ties: the smaller); 0 before any case."""
        return BETAS[int(np.argmax(self.gain))] if self.cases else 0.0

    def add(self, gains: npt.NDArray[np.float64]) -> None:
        """One case: the positive's gain under each of :data:`BETAS`."""
        self.gain += gains
        self.cases += 1

    def columns(self, n: int) -> npt.NDArray[np.int64]:
        """The item rows a case looks at among ``n``: all up to :data:`VALIDATION_SAMPLE`,
        else that many evenly spaced, from an offset that moves with every case (no random
        draw: the model's generator is left alone). The caller drops the ineligible."""
        if n <= VALIDATION_SAMPLE:
            return _spread(n, 0)
        return _spread(n, self.cases % int(n / VALIDATION_SAMPLE))

    def validate(
        self, pop_slow: npt.NDArray[np.float64], lift: npt.NDArray[np.float64], scale: float
    ) -> None:
        """One case: the positive's ``pop_slow`` and ``lift`` first (index 0), then those
        of the eligible items among :meth:`columns`; each rank among them is multiplied
        by ``scale`` (the rows per column looked at). The lift may be off by a constant:
        it moves every item alike."""
        s = pop_slow[None, :] + _BETA_COLUMN * lift[None, :]
        self.add_ranks(np.count_nonzero(s[:, 1:] > s[:, :1], axis=1), scale)

    def add_ranks(self, above: npt.NDArray[np.integer[Any]], scale: float) -> None:
        """One case given, per ``β``, how many of the looked-at candidates score above the
        positive (what :meth:`validate` counts; the learner counts it in compiled code,
        :func:`homerec.kernels.cold_start_ranks`), each standing for ``scale`` rows."""
        self.add(1.0 / np.log2(2.0 + above * scale))

    def state(self) -> dict[str, Any]:
        return {"cold_gain": self.gain.copy(), "cold_cases": self.cases}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ColdStartBlend:
        """Inverse of :meth:`state` (a state saved before the blend existed: empty)."""
        if "cold_gain" not in state:
            return cls.empty()
        gain = np.array(state["cold_gain"], np.float64)
        if gain.shape != (len(BETAS),):
            raise ValueError(f"cold_gain must hold {len(BETAS)} values, got {gain.shape}")
        return cls(gain, int(state["cold_cases"]))


@functools.lru_cache(maxsize=64)
def _spread(n: int, offset: int) -> npt.NDArray[np.int64]:
    """:meth:`ColdStartBlend.columns` of ``n`` items from ``offset`` (read-only): a case
    per positive of a new user, and only ``n / VALIDATION_SAMPLE`` offsets per catalog
    size, so each is computed once."""
    if n <= VALIDATION_SAMPLE:
        out = np.arange(n, dtype=np.int64)
    else:
        at = offset + np.arange(VALIDATION_SAMPLE) * (n / VALIDATION_SAMPLE)
        out = np.minimum(at.astype(np.int64), n - 1)
    out.setflags(write=False)
    return out

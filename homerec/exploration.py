"""Exploration: a share of every page for the items the model knows least about.

A homepage trains on what it shows: an item that is never shown is never clicked, so
it never climbs. :class:`IndexedRecommender.recommend_many
<homerec.models.indexed.IndexedRecommender.recommend_many>` therefore gives
``explore`` of a page's slots (``1`` of ``10`` at ``explore=0.1``; a fractional
remainder is one more slot with that probability) to items drawn by this module, the
rest to the model's best. The draw is a softmax over an upper confidence bound:

``logit(i) = z(i) + bonus / sqrt(1 + n(i))``

* ``z(i)``: the model's score of the item for this user, standardised over the user's
  candidates: the prior, from everything the model knows (for a brand-new item its
  content, tags and demographic planes);
* ``n(i)``: the item's exposure: the examination-weighted times it was shown
  (``impression`` events once the front end sends them; until then the pages the
  model published, see :func:`examination`). The bonus fades as the item is shown.

Brand-new items come first: while some of the user's candidates were never shown,
the draw is among those only (by their ``z``).

Drawing (rather than taking the best bound) makes every explored slot's probability
known: each published item carries ``explore`` and ``p``, the probability with which
the policy put it there (``1.0`` for the model's own best, whose place is certain), so
any other policy can be evaluated offline from the logs (inverse propensity scoring).
The explored item takes a position drawn uniformly over the page. Every draw comes
from the model's own exploration generator, seeded by ``seed``: a run is
deterministic per seed.

>>> rng = np.random.default_rng(0)
>>> z = np.array([2.0, 0.0, 0.0], np.float32)
>>> explore_probabilities(z, np.array([50.0, 50.0, 0.0]), 4.0).tolist()
[0.0, 0.0, 1.0]
>>> probs = explore_probabilities(z, np.array([50.0, 1.0, 1.0]), 4.0)
>>> int(np.argmax(probs)), round(float(probs.sum()), 6)
(1, 1.0)
>>> slots(10, 0.1, rng), slots(10, 0.0, rng)
(1, 0)
>>> examination(np.arange(3)).round(3).tolist()
[1.0, 0.631, 0.5]
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from homerec.typing import FloatArray

__all__ = ["DEFAULT_BONUS", "examination", "explore_probabilities", "slots"]

#: The exposure bonus of an item never shown, in standard deviations of the scores.
DEFAULT_BONUS = 4.0


def examination(positions: npt.NDArray[np.integer]) -> npt.NDArray[np.float64]:
    """How likely a position (0-based) is looked at, relative to the first: the DCG
    discount ``1 / log2(2 + position)``, a prior that needs nothing of the front end."""
    out: npt.NDArray[np.float64] = 1.0 / np.log2(2.0 + positions.astype(np.float64))
    return out


def slots(k: int, share: float, rng: np.random.Generator) -> int:
    """Explored slots on a page of ``k``: ``share·k`` rounded down, plus one with the
    probability of the remainder (no draw when ``share·k`` is whole)."""
    if share <= 0.0 or k <= 0:
        return 0
    whole = math.floor(share * k + 1e-9)
    rest = share * k - whole
    if rest > 1e-9 and rng.random() < rest:
        whole += 1
    return min(whole, k)


def explore_probabilities(
    scores: FloatArray | npt.NDArray[np.float64],
    exposure: npt.NDArray[np.floating],
    bonus: float = DEFAULT_BONUS,
) -> npt.NDArray[np.float64]:
    """The exploration draw's probability of each candidate (see the module docstring):
    ``scores`` the model's (finite), ``exposure`` the examination-weighted impressions."""
    s = scores.astype(np.float64)
    sd = float(s.std()) if len(s) > 1 else 0.0
    z = (s - s.mean()) / sd if sd > 0 else np.zeros_like(s)
    n = np.maximum(exposure.astype(np.float64), 0.0)
    logit = z + bonus / np.sqrt(1.0 + n)
    logit -= logit.max()
    w = np.exp(logit)
    never = n <= 0.0
    if never.any():  # brand-new first: while some candidate was never shown, only those
        w[~never] = 0.0
    out: npt.NDArray[np.float64] = w / w.sum()
    return out

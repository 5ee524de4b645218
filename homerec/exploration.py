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

import functools
import math
from typing import Any

import numpy as np
import numpy.typing as npt

from homerec.kernels import explore_logits, first_above
from homerec.typing import FloatArray

__all__ = [
    "DEFAULT_BONUS", "draw", "examination", "explore_probabilities", "page_examination", "slots",
]  # fmt: skip

#: The exposure bonus of an item never shown, in standard deviations of the scores.
DEFAULT_BONUS = 4.0

_NO_COLUMNS = np.zeros(0, np.int64)  # draw: the item of a position is the position


def examination(positions: npt.NDArray[np.integer]) -> npt.NDArray[np.float64]:
    """How likely a position (0-based) is looked at, relative to the first: the DCG
    discount ``1 / log2(2 + position)``, a prior that needs nothing of the front end."""
    out: npt.NDArray[np.float64] = 1.0 / np.log2(2.0 + positions.astype(np.float64))
    return out


@functools.lru_cache(maxsize=16)
def page_examination(length: int) -> npt.NDArray[np.float64]:
    """:func:`examination` of the positions of a page of ``length`` (read-only): the same
    weights for every page published, computed once per length."""
    out = examination(np.arange(length))
    out.setflags(write=False)
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


def exposure_bonus(
    exposure: npt.NDArray[np.floating], bonus: float = DEFAULT_BONUS
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Per item, the bonus of :func:`explore_probabilities` (``bonus / sqrt(1 + n)``, float32)
    and whether the item was never shown: what :func:`draw` takes, computed once for many
    draws (the caller keeps both up to date as items are shown)."""
    n = np.maximum(exposure, 0.0)
    out: FloatArray = (bonus / np.sqrt(1.0 + n)).astype(np.float32)
    return out, n <= 0.0


def draw(
    scores: FloatArray,
    bonuses: FloatArray,
    never: npt.NDArray[np.bool_],
    u: float,
    *,
    pool: npt.NDArray[np.bool_] | None = None,
    columns: npt.NDArray[np.integer[Any]] | None = None,
) -> tuple[int, float]:
    """One draw from :func:`explore_probabilities`: ``(position, its probability)``.

    The candidates are the positions of ``scores`` in ``pool`` (default: all), the item at
    position ``j`` being ``columns[j]`` (default: ``j``); ``bonuses`` and ``never`` are
    every item's :func:`exposure_bonus`. ``u`` is a uniform number in [0, 1)
    (``rng.random()``: the generator moves as ``rng.choice(len(p), p=p)`` moves it). The
    same distribution, without the checks of ``rng.choice``: the logits by two
    compiled passes that read the row as it lies (:func:`homerec.kernels.explore_logits`; a
    page draws over the whole catalog once per explored slot, and gathering the pool
    into arrays of its own first cost more than the draw), numpy's vectorised
    exponentials, then a compiled search (:func:`homerec.kernels.first_above`). The softmax does not change when
    every logit moves by the same amount, so the mean of the standardisation, and the
    bonus among never-shown items, drop out.

    >>> bonus, never = exposure_bonus(np.array([50.0, 50.0, 0.0]))
    >>> draw(np.array([2.0, 0.0, 0.0], np.float32), bonus, never, 0.3)
    (2, 1.0)
    >>> draw(np.array([2.0, 0.0, 0.0], np.float32), bonus, never, 0.3,
    ...      pool=np.array([True, True, False]))[0]
    0
    """
    if pool is None:
        pool = np.ones(len(scores), bool)
    cols = _NO_COLUMNS if columns is None else np.ascontiguousarray(columns, np.int64)
    at = np.empty(len(scores), np.int64)
    w = np.empty(len(scores))
    m = explore_logits(np.ascontiguousarray(scores, np.float32), pool, cols, bonuses, never, at, w)
    if not m:
        raise ValueError("nothing to draw from: the pool is empty")
    w = w[:m]
    w -= w.max()
    np.exp(w, out=w)
    total = float(w.sum())
    j = first_above(w, u * total)
    return int(at[j]), float(w[j]) / total

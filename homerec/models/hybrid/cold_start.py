"""The first list of a user without history: long-horizon popularity, tilted to their groups.

A user with no event yet has none of the planes that make the hybrid personal
(embedding, co-occurrence, content): the ranker's score of such a user is made of
the item-only terms, and those are learned for another question. The ranker steps on
events as they happen, so its popularity weight sits on the *fast* plane (what was
popular over the last ``pop_half_life`` events: it predicts what a user who is active
right now does next), and its item biases (``b``, the per-tag biases) are fitted to
users with history. A new user's first list is computed once and shown until their
first event, possibly long after: measured on ML-100K's temporal split, that list is
worse than plain all-time popularity (docs/quality.md).

So a user with no event is scored by

``score(i) = pop_slow(i) + β · demo(i)``

* ``pop_slow``: ``log1p`` of the long-half-life decayed count (``pop_slow_half_life``);
  the long run, which a stale list needs, without the all-time count's blindness to
  what stopped being watched;
* ``demo``: the log lift of the item among the user's profile groups (zero without a
  profile), so ``pop_slow + demo`` is, up to a constant, the groups' own popularity;
* ``β`` (:func:`demo_share`): how much the groups tilt the list, the ranker's learned
  weight of the demographic planes for a cold user relative to its weight of the
  popularity planes, clipped to ``[0, 1]`` (from the overall popularity to the
  groups' own). Nothing here is tuned to a data set.

Without a profile the list is the long-horizon popularity order. The ranker itself
is unchanged (it keeps learning from every event, a user's first included); only the
scoring of users with no event uses this rule.

>>> from homerec.models.hybrid.planes import N_PLANES
>>> wf = [0.0] * N_PLANES
>>> wf[Plane.POP_FAST], wf[Plane.POP_COLD], wf[Plane.DEMO_COLD] = -0.5, 3.0, 0.25
>>> demo_share(wf)
0.1
>>> wf[Plane.DEMO_COLD] = -1.0  # the groups never pull the list away from them
>>> demo_share(wf)
0.0
"""

from __future__ import annotations

from collections.abc import Sequence

from homerec.models.hybrid.planes import Plane

__all__ = ["demo_share"]


def demo_share(wf: Sequence[float]) -> float:
    """``β``: the ranker's demographic weight for a cold user over its popularity weight
    (plane weights ``wf``, by :class:`Plane`), in ``[0, 1]``; 0 while the ranker gives
    popularity no positive weight (then the list is the popularity order)."""
    pop = wf[Plane.POP_FAST] + wf[Plane.POP_COLD] + wf[Plane.POP_SLOW]
    demo = wf[Plane.DEMO] + wf[Plane.DEMO_COLD]
    if pop <= 0.0:
        return 0.0
    return float(min(max(demo / pop, 0.0), 1.0))

"""The hybrid's feature planes by name: one enum for the model and its compiled kernels.

A plane is one scalar feature of a (user, item) pair; its value in :class:`Plane` is
its row in the reference tensor ``X`` (:mod:`~homerec.models.hybrid.reference`) and
the index of its weight in the ranker's vector, which goes on with ``n_factors``
per-factor weights of the embedding product and ``tag_dims`` per-tag item biases
(:func:`factor_weights`, :func:`tag_weights`).

This module imports nothing but the standard library: ``homerec/_kernels_src.py``
loads it by path when the kernels are compiled, before homerec itself can be
imported, and reads the planes' rows from it as plain integers.

>>> PLANES[Plane.POP_FAST]
'pop_fast'
>>> N_PLANES, factor_weights(4), tag_weights(4)
(14, slice(14, 18, None), slice(18, None, None))
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["N_PLANES", "PLANES", "Plane", "factor_weights", "tag_weights"]


class Plane(IntEnum):
    """The feature planes, valued by their row (see the package docstring for each one's
    meaning)."""

    COOC = 0
    COOC_LOG = 1
    MF = 2
    POP_FAST = 3
    POP_SLOW = 4
    CONTENT = 5
    DEMO = 6
    POP_COLD = 7
    DEMO_COLD = 8
    CONTENT_COLD = 9
    CONTENT_NEW = 10
    ITEM_COLD = 11
    COOC_RECENT = 12
    ITEM_RATE = 13


#: How many planes there are (the ranker's first weights).
N_PLANES = len(Plane)
#: The planes' names in row order (``"cooc"``, ``"cooc_log"``, ...).
PLANES: tuple[str, ...] = tuple(p.name.lower() for p in Plane)


def factor_weights(n_factors: int) -> slice:
    """Where the per-factor weights of ``e_u⊙e_i`` sit in the ranker's vector."""
    return slice(N_PLANES, N_PLANES + n_factors)


def tag_weights(n_factors: int) -> slice:
    """Where the per-tag item biases sit in the ranker's vector (after the factors)."""
    return slice(N_PLANES + n_factors, None)

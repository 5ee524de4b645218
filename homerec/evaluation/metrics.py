"""Ranking metrics of the prequential protocol.

>>> hit_and_ndcg(["a", "b", "c"], "b")
(True, 0.6309297535714575)
>>> hit_and_ndcg(["a"], "z")
(False, 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["hit_and_ndcg"]


def hit_and_ndcg(ranked: Sequence[str], target: str) -> tuple[bool, float]:
    """Whether ``target`` is in ``ranked`` and its NDCG gain ``1/log2(rank + 2)`` (rank 0-based)."""
    for rank, item in enumerate(ranked):
        if item == target:
            return True, 1.0 / math.log2(rank + 2)
    return False, 0.0

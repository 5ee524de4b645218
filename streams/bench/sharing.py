"""What sharing the item side costs one worker: the pipeline with and without it.

Issue 18 asks that one worker's throughput with the item-updates exchange on be at
least 0.9 × without, measured in one run. Alone in its group a worker still takes
its delta after every batch (a comparison of the item tables with a copy), encodes
it and sends it, and polls the item-updates topic: that is what this phase prices.

Each run gets topics of its own (a fresh consumer group and an empty item-updates
topic) and a model built and warmed the same way. The runs alternate
off, on, on, off, ... so that a drift of the shared machine's load weighs on both
sides alike; the ratio is the mean rate with sharing over the mean rate without.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from streams.bench.throughput import ThroughputResult

__all__ = ["SharingCost", "abba", "measure_sharing"]

log = logging.getLogger(__name__)


def abba(pairs: int) -> list[bool]:
    """Run order, ``True`` = sharing on: off, on, on, off, off, on, ...

    >>> abba(2)
    [False, True, True, False]
    >>> abba(3)
    [False, True, True, False, False, True]
    """
    order: list[bool] = []
    for i in range(pairs):
        order += [False, True] if i % 2 == 0 else [True, False]
    return order


@dataclass(slots=True)
class SharingCost:
    """Events/s of each run, in run order, and the ratio of the means."""

    on_eps: list[float] = field(default_factory=list)
    off_eps: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        if not self.on_eps or not self.off_eps:
            return None
        on = sum(self.on_eps) / len(self.on_eps)
        off = sum(self.off_eps) / len(self.off_eps)
        return on / off if off > 0 else None

    def to_dict(self) -> dict[str, Any]:
        ratio = self.ratio
        return {**asdict(self), "ratio": None if ratio is None else round(ratio, 4)}


def measure_sharing(run: Callable[[bool], ThroughputResult], *, pairs: int = 2) -> SharingCost:
    """``run(share_items)`` once per entry of :func:`abba`; their rates."""
    cost = SharingCost()
    for share in abba(pairs):
        result = run(share)
        (cost.on_eps if share else cost.off_eps).append(round(result.eps, 1))
        log.info("sharing %s: %.0f events/s", "on" if share else "off", result.eps)
    return cost

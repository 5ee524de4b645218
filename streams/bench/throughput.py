"""How a throughput phase is clocked, the same way for the ceiling and the worker.

The clock starts when the first non-empty batch is done (so joining the
consumer group and the first fetch are not measured) and stops when the last
event was processed, published, acknowledged and its offset committed:
``eps = events after the first batch / seconds between``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["BatchClock", "ThroughputResult"]


@dataclass(frozen=True, slots=True)
class ThroughputResult:
    """Events per second of one phase, and what it is made of."""

    events: int
    seconds: float
    batches: int

    @property
    def eps(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {
            "events": self.events,
            "seconds": round(self.seconds, 4),
            "batches": self.batches,
            "eps": round(self.eps, 1),
        }


class BatchClock:
    """Counts events per batch; see the module docstring for what is timed."""

    def __init__(self) -> None:
        self.total = 0
        self.batches = 0
        self._first_done: float | None = None
        self._first_events = 0
        self._last_done: float | None = None

    def batch_done(self, n: int) -> None:
        """Record a finished batch of ``n`` events (``n`` may be 0: nothing is recorded)."""
        if n <= 0:
            return
        now = time.perf_counter()
        self.total += n
        self.batches += 1
        if self._first_done is None:
            self._first_done = now
            self._first_events = n
        self._last_done = now

    def result(self) -> ThroughputResult:
        if self._first_done is None or self._last_done is None:
            return ThroughputResult(0, 0.0, 0)
        return ThroughputResult(
            events=self.total - self._first_events,
            seconds=self._last_done - self._first_done,
            batches=max(0, self.batches - 1),
        )

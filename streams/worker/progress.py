"""How far the worker is: the periodic progress line of its log, its consumer lag.

The line is written every ``every_s`` seconds, and only when something happened
since the last one (events, dead letters, lists): an idle worker stays quiet.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kafka.errors import KafkaError
from kafka.structs import TopicPartition

from streams import metrics as m

__all__ = ["Progress", "consumer_lag"]

log = logging.getLogger("streams.worker")


@dataclass(slots=True)
class _Counts:
    events: int = 0
    dlq: int = 0
    published: int = 0
    batches: int = 0


class Progress:
    """Counts what the loop did and logs it now and then."""

    def __init__(self, every_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._every_s = every_s
        self._clock = clock
        self._since = clock()
        self._counts = _Counts()

    def consumed(self, events: int, dlq: int) -> None:
        self._counts.events += events
        self._counts.dlq += dlq

    def published(self, lists: int) -> None:
        self._counts.published += lists
        self._counts.batches += 1

    def maybe_log(self, *, lag: int, k: int, hit_rate: float) -> None:
        now = self._clock()
        elapsed = now - self._since
        if elapsed < self._every_s:
            return
        c = self._counts
        if c.events or c.dlq or c.published:
            log.info(
                "processed %d events (%.0f/s), %d lists published, %d to DLQ, lag %d, live HR@%d %.3f",
                c.events,
                c.events / elapsed,
                c.published,
                c.dlq,
                lag,
                k,
                hit_rate,
                extra={"events": c.events, "dlq": c.dlq, "published": c.published, "lag": lag},
            )
        self._counts = _Counts()
        self._since = now


def consumer_lag(consumer: Any, partitions: Iterable[TopicPartition]) -> int:
    """Messages not processed yet in ``partitions``, summed (per partition: the gauge);
    partitions whose end or position the consumer does not know yet count 0."""
    total = 0
    for tp in partitions:
        high = consumer.highwater(tp)
        if high is None:
            continue
        try:
            pos = consumer.position(tp, timeout_ms=0)
        except KafkaError:
            continue
        if pos is None:
            continue
        lag = max(0, high - pos)
        total += lag
        m.CONSUMER_LAG.labels(partition=str(tp.partition)).set(lag)
    return total

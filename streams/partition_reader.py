"""Read whole partitions outside the consumer group: catalog and state restore.

The worker reads the compacted ``items`` topic (every worker needs the whole
catalog) and, on assignment, the changelog partitions of its users, with a
group-less consumer that is assigned the partitions explicitly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from streams.config import Settings
from streams.errors import StreamsError

__all__ = ["PartitionReader"]


class PartitionReader:
    """A group-less consumer over explicit partitions of one topic."""

    def __init__(self, settings: Settings, topic: str, *, client_id: str) -> None:
        self.topic = topic
        self._consumer = KafkaConsumer(
            **settings.client_options(
                client_id=client_id,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                isolation_level="read_committed",
                max_poll_records=5000,
                fetch_max_wait_ms=50,
            )
        )

    def partitions(self, timeout_s: float = 15.0) -> list[int]:
        from streams.topics import partitions_for

        return partitions_for(self._consumer, self.topic, timeout_s)

    def assign(self, partitions: Sequence[int], *, from_beginning: bool = True) -> None:
        tps = [TopicPartition(self.topic, p) for p in partitions]
        self._consumer.assign(tps)
        if from_beginning and tps:
            self._consumer.seek_to_beginning(*tps)

    def poll(self, timeout_ms: int = 0) -> list[Any]:
        """Whatever is available now (records of all assigned partitions, in order)."""
        batch = self._consumer.poll(timeout_ms=timeout_ms)
        return [rec for recs in batch.values() for rec in recs]

    def seek(self, offsets: Mapping[int, int]) -> None:
        """Move assigned partitions to the given next offsets."""
        for p, offset in offsets.items():
            self._consumer.seek(TopicPartition(self.topic, p), offset)

    def position(self, partition: int) -> int:
        """The next offset this reader returns for ``partition`` (past transaction markers)."""
        return int(self._consumer.position(TopicPartition(self.topic, partition)))

    def end_offsets(self, partitions: Sequence[int]) -> dict[int, int]:
        """The current end (high watermark; last stable offset with read_committed) of each."""
        tps = [TopicPartition(self.topic, p) for p in partitions]
        return {tp.partition: int(o) for tp, o in self._consumer.end_offsets(tps).items()}

    def highwater(self, partition: int) -> int | None:
        """The partition's end as of the last fetch, without asking the broker (None: unknown)."""
        high = self._consumer.highwater(TopicPartition(self.topic, partition))
        return None if high is None else int(high)

    def read_to_end(self, partitions: Sequence[int], timeout_s: float = 60.0) -> Iterator[Any]:
        """Yield every record of ``partitions`` from the beginning up to their current end."""
        self.assign(partitions)
        tps = [TopicPartition(self.topic, p) for p in partitions]
        if not tps:
            return
        end = self._consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        pending = {tp for tp in tps if end[tp] > self._consumer.position(tp)}
        while pending:
            if time.monotonic() > deadline:
                raise StreamsError(
                    f"could not read {self.topic} partitions {sorted(p.partition for p in pending)}"
                    f" to the end within {timeout_s:.0f}s"
                )
            for recs in self._consumer.poll(timeout_ms=200).values():
                yield from recs
            # positions move past transaction markers too, so compare positions, not offsets
            pending = {tp for tp in pending if self._consumer.position(tp) < end[tp]}

    def read_range(
        self, ranges: Mapping[int, tuple[int, int]], timeout_s: float = 60.0
    ) -> Iterator[Any]:
        """Yield the records of each partition ``p`` with ``start <= offset < stop`` for
        ``ranges[p] = (start, stop)``, in offset order within a partition (replay of events)."""
        todo = {TopicPartition(self.topic, p): r for p, r in ranges.items() if r[1] > r[0]}
        self._consumer.assign(list(todo))
        for tp, (start, _) in todo.items():
            self._consumer.seek(tp, start)
        deadline = time.monotonic() + timeout_s
        pending = set(todo)
        while pending:
            if time.monotonic() > deadline:
                raise StreamsError(
                    f"could not read {self.topic} partitions {sorted(p.partition for p in pending)}"
                    f" up to the requested offsets within {timeout_s:.0f}s"
                )
            for tp, recs in self._consumer.poll(timeout_ms=200).items():
                stop = todo[tp][1]
                yield from (rec for rec in recs if rec.offset < stop)
            # a position past the stop offset (or a transaction marker at it) ends a partition
            pending = {tp for tp in pending if self._consumer.position(tp) < todo[tp][1]}
            done = set(todo) - pending
            if done:
                self._consumer.pause(*done)  # fetch no further than needed

    def close(self) -> None:
        self._consumer.close(autocommit=False)

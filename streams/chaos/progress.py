"""The worker group's committed offsets over time, and recovery times derived from them.

A background thread samples, every ``interval_s``, the group's committed
offset and the end offset of every events partition. **Recovery** after a
disruption is defined on these samples:

    the first sample, after the disruption and after a *base* sample of the
    committed offsets, in which every partition that received events since the
    base has a committed offset beyond its base offset.

For a worker kill the base is the first sample taken after the SIGKILL (the
dead worker cannot commit any more, so its partitions stall there) and the
clock starts at the SIGKILL. For a broker restart the base is the last sample
before the stop and the clock starts when the broker accepts connections
again (the downtime itself is reported separately). So a recovery time is how
long the *whole* fleet took to process and commit again on every partition,
not just on the partitions of surviving workers. Resolution: ``interval_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from streams.config import Settings
from streams.topics import EVENTS

__all__ = ["GroupProgress", "Sample"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Sample:
    """Committed and end offsets of every events partition at monotonic time ``t``."""

    t: float
    committed: dict[int, int]
    end: dict[int, int]
    #: members of the group and its state (``Stable``, ``PreparingRebalance``, ...)
    members: int = 0
    state: str = ""


class GroupProgress:
    """Sample ``<prefix>.worker``'s progress on ``<prefix>.events`` in the background."""

    def __init__(self, settings: Settings, *, interval_s: float = 0.2) -> None:
        self.settings = settings
        self.interval_s = interval_s
        self._topic = settings.topic(EVENTS.name)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._admin: Any = None
        self._consumer: Any = None
        self._tps: list[TopicPartition] = []
        self.errors = 0

    # -- clients ------------------------------------------------------------------
    def _connect(self) -> None:
        opts = self.settings.client_options(
            client_id="homerec-chaos-progress",
            request_timeout_ms=3_000,
            reconnect_backoff_max_ms=500,
        )
        self._admin = KafkaAdminClient(**opts)
        self._consumer = KafkaConsumer(**opts, group_id=None, enable_auto_commit=False)
        parts = self._consumer.partitions_for_topic(self._topic) or set()
        self._tps = [TopicPartition(self._topic, p) for p in sorted(parts)]

    def _disconnect(self) -> None:
        for client in (self._admin, self._consumer):
            if client is None:
                continue
            try:
                client.close()
            except Exception:  # noqa: BLE001 - best effort while the broker may be away
                log.debug("closing a progress client", exc_info=True)
        self._admin = self._consumer = None

    def _sample(self) -> Sample:
        if self._admin is None:
            self._connect()
        end = self._consumer.end_offsets(self._tps)
        group = self.settings.group
        offsets = self._admin.list_group_offsets({group: None}).get(group) or {}
        committed = {tp.partition: 0 for tp in self._tps}
        for tp, om in offsets.items():
            if tp.topic == self._topic and om.offset >= 0:
                committed[tp.partition] = int(om.offset)
        desc = self._admin.describe_groups([group]).get(group) or {}
        return Sample(
            time.monotonic(),
            committed,
            {tp.partition: int(end[tp]) for tp in self._tps},
            len(desc.get("members") or ()),
            str(desc.get("group_state") or ""),
        )

    # -- thread --------------------------------------------------------------------
    def start(self) -> None:
        self._connect()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                sample = self._sample()
            except Exception as exc:  # noqa: BLE001 - the broker may be restarting
                self.errors += 1
                failures += 1
                level = logging.WARNING if self.errors == 1 else logging.DEBUG
                log.log(level, "progress sample failed (broker away?): %r", exc)
                if failures >= 3:  # start over with fresh clients
                    self._disconnect()
                    failures = 0
            else:
                failures = 0
                with self._cond:
                    self._samples.append(sample)
                    self._cond.notify_all()
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - began)))

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._disconnect()

    # -- queries -------------------------------------------------------------------
    def latest(self) -> Sample | None:
        with self._lock:
            return self._samples[-1] if self._samples else None

    def next_sample(self, after: float, timeout_s: float) -> Sample | None:
        """The first sample taken after monotonic time ``after`` (waits up to ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for sample in self._samples[-100:]:
                    if sample.t > after:
                        return sample
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def wait_recovered(self, base: Sample, timeout_s: float) -> Sample | None:
        """The first sample after ``base`` in which every partition that got events since
        ``base`` has committed beyond it; None after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        seen = base.t
        while True:
            sample = self.next_sample(seen, max(0.0, deadline - time.monotonic()))
            if sample is None:
                return None
            if recovered(base, sample):
                return sample
            seen = sample.t

    def wait_stable(self, members: int, after: float, timeout_s: float) -> Sample | None:
        """The first sample after ``after`` of a ``Stable`` group with ``members`` members."""
        deadline = time.monotonic() + timeout_s
        seen = after
        while True:
            sample = self.next_sample(seen, max(0.0, deadline - time.monotonic()))
            if sample is None:
                return None
            if sample.state == "Stable" and sample.members == members:
                return sample
            seen = sample.t

    def caught_up(self) -> Sample | None:
        """The latest sample if every partition's committed offset equals its end offset."""
        sample = self.latest()
        if sample is None:
            return None
        done = all(sample.committed.get(p, 0) >= end for p, end in sample.end.items())
        return sample if done else None


def recovered(base: Sample, sample: Sample) -> bool:
    """Every partition with events after ``base`` committed past its base offset.

    >>> b = Sample(0.0, {0: 10, 1: 5}, {0: 12, 1: 5})
    >>> recovered(b, Sample(1.0, {0: 11, 1: 5}, {0: 14, 1: 5}))
    True
    >>> recovered(b, Sample(1.0, {0: 11, 1: 5}, {0: 14, 1: 7}))
    False
    """
    for p, end in sample.end.items():
        start = base.committed.get(p, 0)
        if end > start and sample.committed.get(p, 0) <= start:
            return False
    return True

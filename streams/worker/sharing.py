"""The shared item side over Kafka: publish this member's item deltas, apply the others'.

Each member of the group owns its users and keeps a replica of the item side
(:mod:`homerec.sharing`). After each batch it takes the delta of its own learning
and sends it to ``<prefix>.item-updates`` with the batch's other records (in the
batch's transaction with exactly-once), as one record that also names the events
it was learned from (``(first, last)`` offset per events partition). Every member
reads the whole topic with a group-less, assigned, ``read_committed`` reader and
applies the others' deltas once per loop iteration, after taking its own. Each
incarnation of a worker shares under a fresh member name (``<instance>.<random>``):
a restarted or rolled-back worker starts a new sequence, and its predecessor's
deltas are simply another member's.

A worker stopping in good order takes and sends its last delta, then applies every
delta up to the topic's end before its final checkpoint (:meth:`ItemSharing.drain`):
the checkpoints of a group stopped after its stream drained hold one item side.

**Restore.** A checkpoint records which item updates its state includes: the next
offset per item-updates partition that the writer had applied, and the writer's
member name and last own ``seq`` (its own deltas are in the state as its own
learning, whatever their offsets). A fresh model (start-up, rollback) loads the
newest checkpoint and, at its first restore of partitions, catches up:

1. it reads item-updates from the checkpoint's offsets (from the beginning
   without one) to the end, leaving out the writer's own deltas up to its ``seq``;
2. if every one of those deltas was learned from events that
   :class:`~streams.worker.recovery.Recovery` would replay (the checkpoint covers
   their partitions, the events follow its offsets), or was taken idle (no events) by
   the checkpoint's writer — a worker alone, or one whose group published nothing
   else since — the deltas are left out and the replay
   learns their events again, in the order they were first learned: the state is
   the one an uninterrupted worker would hold. A left-out delta that reaches
   beyond the committed offset (at-least-once: see below) extends the replay to
   its last event, whose users are marked restored ahead (the loop skips their
   events up to there, and publishes their lists). Otherwise (other
   members' deltas came in between, which a replay could not interleave as they
   were) every delta is applied and every user restored from the changelog, so
   the item side is exactly the group's and each event counted once;
3. after the replay the member starts sharing under a fresh name, so what the
   replay learned (already in the group's item side, as the left-out deltas) is
   never published again.

A member that is already caught up never replays a newly assigned partition: its
item side holds the deltas of those events already, so their users come from the
changelog. Hence, with a shared item side, the replay is the path of a worker
that restarts alone (or into a quiet group), the changelog (on by default) the
path of a partition that moves and of a member that restarts in a busy group:
without the changelog, those users start afresh.

**Why this holds in both guarantees.** Exactly-once: a delta, its batch's lists,
changelog records and offsets commit together, and everything is read
``read_committed``, so the deltas in the log cover exactly the committed events:
what the checkpoint and the left-out deltas do not hold is applied once, what the
replay learns is left out once. At-least-once: a batch's delta is acknowledged
before its offsets are committed (which may lag by ``commit_interval_s``). A crash
in between leaves deltas for events that would be consumed again: the replay
learns them instead and their users skip them as restored ahead (or, on the changelog path,
their users are restored *ahead* of the committed offset, their records having
been acknowledged with the delta, and skip them), so they are not learned and
shared again. The window left is a crash (or a failed delivery) while a batch's
records are only partly acknowledged: that batch's item side can then be counted
twice or not at all, at most one batch per crash (exactly-once has no such
window).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from homerec.errors import InvalidEvent
from homerec.models.base import Recommender
from homerec.sharing import ItemDelta, ItemShared
from streams import metrics as m
from streams.checkpoint import Checkpoint
from streams.codec import ItemUpdate, decode_item_update, encode_item_update
from streams.config import Settings
from streams.partition_reader import PartitionReader
from streams.worker.intake import DeadLetterRecord, Record, dead_letter

__all__ = ["ItemSharing", "event_ranges"]

log = logging.getLogger(__name__)

#: replay ranges per events partition: ``(first offset, stop offset)``
Ranges = Mapping[int, tuple[int, int]]


def event_ranges(records: Iterable[Record]) -> dict[int, tuple[int, int]]:
    """``(first, last)`` offset per partition of ``records``.

    >>> from collections import namedtuple
    >>> R = namedtuple("R", "partition offset")
    >>> event_ranges([R(0, 5), R(1, 2), R(0, 9), R(0, 7)])
    {0: (5, 9), 1: (2, 2)}
    """
    out: dict[int, tuple[int, int]] = {}
    for rec in records:
        lo, hi = out.get(rec.partition, (rec.offset, rec.offset))
        out[rec.partition] = (min(lo, rec.offset), max(hi, rec.offset))
    return out


class ItemSharing:
    """This member's side of the item-updates topic (see the module docstring).

    Disabled (every method a no-op) unless ``enabled``; the worker enables it for
    models that are :class:`~homerec.sharing.ItemShared`.
    """

    def __init__(self, settings: Settings, topic: str, *, instance: str, enabled: bool) -> None:
        self.settings = settings
        self.topic = topic
        self.enabled = enabled
        self._instance = instance
        #: the name this incarnation's deltas carry (new at every :meth:`reset`)
        self.member = ""
        #: ``seq`` of the last delta taken
        self.seq = 0
        #: caught up with the topic: deltas are taken, sent and applied from now on
        self.live = False
        self._reader: PartitionReader | None = None
        self._partitions: list[int] = []
        #: from the loaded checkpoint: where to read from, and its writer's own deltas
        self._from: dict[int, int] = {}
        self._cp_partitions: set[int] | None = None
        self._cp_member = ""
        self._cp_seq = 0
        self._fresh = False
        self._newest_ts = 0
        self.dead: list[DeadLetterRecord] = []

    # -- lifecycle -----------------------------------------------------------
    def open(self) -> None:
        if not self.enabled:
            return
        self._reader = PartitionReader(
            self.settings, self.topic, client_id=f"homerec-item-updates-{self._instance}"
        )
        self._partitions = self._reader.partitions()
        self._reader.assign(self._partitions, from_beginning=False)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def take_dead(self) -> list[DeadLetterRecord]:
        dead, self.dead = self.dead, []
        return dead

    # -- restore -------------------------------------------------------------
    def reset(self, model: Recommender, checkpoint: Checkpoint | None) -> None:
        """``model`` was (re)built, from ``checkpoint`` if not None: catch up at the next
        restore (:meth:`choose_replay`), until then nothing is sent or applied."""
        if not self.enabled:
            return
        shared = checkpoint.shared if checkpoint is not None else {}
        offsets = shared.get("offsets", {})
        self._from = {int(p): int(o) for p, o in offsets.items()} if offsets else {}
        #: the events partitions the checkpoint's state covers (None: no checkpoint)
        self._cp_partitions = set(checkpoint.offsets) if checkpoint is not None else None
        self._cp_member = str(shared.get("member", ""))
        self._cp_seq = int(shared.get("seq", 0))
        self.live = False
        self._fresh = False
        self._start(model)

    def choose_replay(self, model: Recommender, ranges: Ranges) -> dict[int, tuple[int, int]]:
        """The ranges of ``ranges`` (what :class:`Recovery` would replay: ``(start, committed
        offset)``) that may be replayed, a stop moved up to the end of the deltas published
        beyond the committed offset; the first call after :meth:`reset` catches up first."""
        empty = {p: r for p, r in ranges.items() if r[1] <= r[0]}
        if not self.enabled:
            return dict(ranges)
        if self.live:
            return empty  # the item side holds every delta of those events already
        pending = self._read_pending()
        # an empty range too: deltas beyond its committed offset extend it
        replay = set(ranges)
        if self._cp_partitions is not None:
            # a partition the checkpoint does not cover would be replayed from offset 0,
            # but the checkpoint's item side holds its events already (as deltas)
            replay &= self._cp_partitions

        def replayed(u: ItemUpdate) -> bool:
            if not u.events:
                # an idle take (no events) of the checkpoint's writer holds what float16
                # left out of its earlier deltas, of which the checkpoint and the replay
                # hold the exact values; another member's makes the group's order count
                return bool(self._cp_member) and u.delta.source == self._cp_member
            return all(p in replay and lo >= ranges[p][0] for p, (lo, _) in u.events.items())

        log.debug(
            "catch-up: replay candidates %s, checkpoint partitions %s, pending %s",
            dict(ranges),
            self._cp_partitions,
            [u.events for u in pending],
        )
        if all(replayed(u) for u in pending):
            # the replay learns what these deltas hold, in the order it was first learned
            todo: list[ItemDelta] = []
            stops = {p: ranges[p][1] for p in replay}
            for u in pending:
                # at-least-once: deltas acknowledged for events whose offsets were not
                # committed (the worker died in between): the replay learns those too
                for p, (_, hi) in u.events.items():
                    stops[p] = max(stops[p], hi + 1)
        else:
            # other members' learning came in between: the item side comes from the deltas,
            # every user from the changelog
            todo = [u.delta for u in pending]
            replay, stops = set(), {}
        assert isinstance(model, ItemShared)
        # the model's item side now also holds the catalog and the item snapshots, loaded
        # after reset(): the replica's snapshot and canonical order start from here
        self._start(model)
        n = model.apply_item_deltas(todo)
        m.ITEM_UPDATES_APPLIED.inc(n)
        log.info(
            "item side caught up: %d deltas applied, %d left to the replay of partitions %s",
            n,
            len(pending) - len(todo),
            sorted(replay),
        )
        self.live = True
        self._fresh = True
        self._update_lag()
        return {**empty, **{p: (ranges[p][0], stops[p]) for p in replay}}

    def after_restore(self, model: Recommender) -> None:
        """After the catching-up restore: share under a fresh name, so that what the
        replay learned (the group has it already) is never sent."""
        if self._fresh:
            self._fresh = False
            self._start(model)

    def checkpoint_info(self) -> dict[str, Any]:
        """What a checkpoint taken now includes (``shared`` of its manifest)."""
        if not (self.enabled and self.live and self._reader is not None):
            return {}
        offsets = {p: self._reader.position(p) for p in self._partitions}
        return {"offsets": offsets, "member": self.member, "seq": self.seq}

    # -- the loop ------------------------------------------------------------
    def take(self, model: Recommender) -> ItemDelta | None:
        """This member's delta since the last take; None if nothing to send."""
        if not (self.enabled and self.live):
            return None
        assert isinstance(model, ItemShared)
        delta = model.take_item_delta()
        self.seq = delta.seq
        return None if delta.is_empty() else delta

    def send(self, delta: ItemDelta, events: Mapping[int, tuple[int, int]], send: Any) -> None:
        """Send ``delta`` (learned from the ``events`` offsets) with ``send(topic, key, value)``."""
        key, value = encode_item_update(ItemUpdate(delta, dict(events)))
        send(self.topic, key, value)
        m.ITEM_UPDATES_SENT.inc()
        m.ITEM_UPDATES_BYTES.labels(direction="sent").inc(len(value))

    def apply_new(self, model: Recommender) -> int:
        """Apply the other members' deltas that arrived (take this member's own first)."""
        if not (self.enabled and self.live and self._reader is not None):
            return 0
        updates = self._decode(self._reader.poll(0))
        n = 0
        if updates:
            assert isinstance(model, ItemShared)
            n = model.apply_item_deltas([u.delta for u in updates])
            m.ITEM_UPDATES_APPLIED.inc(n)
        self._update_lag()
        return n

    def drain(self, model: Recommender, timeout_s: float = 30.0) -> int:
        """Before the final checkpoint: apply every delta up to the topic's end (this
        member's own ones back too), so that a stopped group's checkpoints hold one item
        side. Best effort: what is not read within ``timeout_s`` stays for the catch-up."""
        if not (self.enabled and self.live and self._reader is not None):
            return 0
        reader = self._reader
        ends = reader.end_offsets(self._partitions)
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while any(reader.position(p) < ends[p] for p in self._partitions):
            if time.monotonic() > deadline:
                log.warning("item updates not read to their end before the final checkpoint")
                break
            records.extend(reader.poll(200))
        updates = self._decode(records)
        assert isinstance(model, ItemShared)
        n = model.apply_item_deltas([u.delta for u in updates]) if updates else 0
        m.ITEM_UPDATES_APPLIED.inc(n)
        self._update_lag()
        return n

    # -- helpers -------------------------------------------------------------
    def _start(self, model: Recommender) -> None:
        assert isinstance(model, ItemShared)
        self.member = f"{self._instance}.{uuid.uuid4().hex[:8]}"
        self.seq = 0
        model.share_items(self.member)

    def _read_pending(self) -> list[ItemUpdate]:
        """Every update after the checkpoint's offsets that the checkpoint does not hold."""
        reader = self._reader
        assert reader is not None
        ends = reader.end_offsets(self._partitions)
        for p in self._partitions:
            reader.seek({p: self._from.get(p, 0)})
        records: list[Any] = []
        deadline = time.monotonic() + 120.0
        while any(reader.position(p) < ends[p] for p in self._partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {self.topic} to its end within 120s")
            records.extend(reader.poll(200))
        return [
            u
            for u in self._decode(records)
            if not (u.delta.source == self._cp_member and u.delta.seq <= self._cp_seq)
        ]

    def _decode(self, records: list[Any]) -> list[ItemUpdate]:
        out: list[ItemUpdate] = []
        for rec in records:
            m.ITEM_UPDATES_BYTES.labels(direction="received").inc(len(rec.value or b""))
            try:
                out.append(decode_item_update(rec.value))
            except InvalidEvent as exc:
                # a bad record never stops the loop: to the dead-letter topic, with the reason
                self.dead.append(dead_letter(exc, self.topic, rec))
                continue
            self._newest_ts = max(self._newest_ts, int(rec.timestamp))
        return out

    def _update_lag(self) -> None:
        reader = self._reader
        if reader is None:
            return
        behind = 0
        for p in self._partitions:
            high = reader.highwater(p)
            if high is not None:
                behind += max(0, high - reader.position(p))
        m.ITEM_UPDATES_LAG_RECORDS.set(behind)
        age = time.time() - self._newest_ts / 1000.0 if behind and self._newest_ts else 0.0
        m.ITEM_UPDATES_LAG_SECONDS.set(max(0.0, age))

"""Recovery: what the model state covers, and bringing it up to the committed offsets.

As Quix Streams' recovery manager. Three parts:

* :class:`Assignment`: the partitions of the events topic this worker owns, and
  those still to restore before their first batch (rebalance callbacks write it);
* :class:`Coverage`: per events partition, the next offset whose effect the model
  includes exactly, and the users restored from the changelog *ahead* of the
  committed offset (their events up to the restored offset are skipped, whatever
  the guarantee);
* :class:`Recovery`: loads the newest whole-model checkpoint and per-item
  snapshots (the item-state topic), then on assignment replays events from the
  covered offset up to the committed one (exact) or, beyond ``max_replay``
  events or the log's retention, loads the users' latest changelog records.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kafka.structs import TopicPartition

from homerec.errors import InvalidEvent, StateError
from homerec.events import Event
from homerec.models.base import Recommender
from homerec.models.stateful import Forgetful, ItemStateful, Sized, UserStateful
from homerec.state_io import unpackb
from homerec.typing import UserId
from streams import checkpoint as ckpt
from streams import metrics as m
from streams.codec import decode_event
from streams.config import Settings
from streams.partition_reader import PartitionReader
from streams.topics import CHANGELOG, EVENTS, ITEM_STATE
from streams.worker.delivery import now_ms
from streams.worker.intake import Intake, Restored
from streams.worker.users import Forget

__all__ = ["Assignment", "Coverage", "Recovery", "SharedState", "freeze_heap"]

log = logging.getLogger(__name__)


class Assignment:
    """The assigned partitions of the events topic, and those not restored yet.

    >>> a = Assignment()
    >>> a.add([TopicPartition("ev", 1), TopicPartition("ev", 0)])
    >>> TopicPartition("ev", 0) in a, len(a), [tp.partition for tp in a.take_pending()]
    (True, 2, [0, 1])
    >>> a.remove([TopicPartition("ev", 0)]); a.pending, len(a)
    (set(), 1)
    """

    def __init__(self) -> None:
        self.assigned: set[TopicPartition] = set()
        #: assigned, and not restored yet (the loop restores them before their first batch)
        self.pending: set[TopicPartition] = set()

    def __contains__(self, tp: object) -> bool:
        return tp in self.assigned

    def __len__(self) -> int:
        return len(self.assigned)

    def add(self, partitions: Iterable[TopicPartition]) -> None:
        partitions = list(partitions)
        self.assigned.update(partitions)
        self.pending.update(partitions)

    def remove(self, partitions: Iterable[TopicPartition]) -> None:
        partitions = list(partitions)
        self.assigned.difference_update(partitions)
        self.pending.difference_update(partitions)

    def sorted(self) -> list[TopicPartition]:
        return sorted(self.assigned, key=lambda tp: tp.partition)

    def take_pending(self) -> list[TopicPartition]:
        """The partitions to restore now, in order (no longer pending)."""
        pending = sorted(self.pending, key=lambda tp: tp.partition)
        self.pending.clear()
        return pending


class Coverage:
    """What the model state includes, per events partition and per user restored ahead.

    >>> c = Coverage()
    >>> c.restore_user("u1", Restored(partition=0, offset=9, ts=5), committed=4)
    >>> c.settled({TopicPartition("ev", 0): 7}); c.covered, list(c.restored)
    ({0: 8}, ['u1'])
    >>> c.settled({TopicPartition("ev", 0): 9}); c.covered, list(c.restored)
    ({0: 10}, [])
    """

    def __init__(self) -> None:
        #: events partition -> next offset whose effect the model state includes exactly
        #: (from a checkpoint, a restore or processing); restore replays from there
        self.covered: dict[int, int] = {}
        #: partitions whose "covered" offset a revocation dropped (their users restored
        #: ahead lost their skip list): a batch settled later must not claim them again
        self.uncovered: set[int] = set()
        #: partitions whose events or users this model has ever been given
        self.seen: set[int] = set()
        #: users restored from the changelog whose state is ahead of the committed offset
        self.restored: dict[UserId, Restored] = {}
        #: user -> ``ts`` of the newest event applied (the lists' ``event_ts``)
        self.newest_ts: dict[UserId, int] = {}

    def reset(self) -> None:
        """Nothing is covered (a rollback starts from a fresh model)."""
        self.covered.clear()
        self.uncovered.clear()
        self.seen.clear()
        self.restored.clear()
        self.newest_ts.clear()

    def forget(self, users: Iterable[UserId]) -> None:
        """``users`` were erased: nothing of them is kept here either."""
        for user in users:
            self.restored.pop(user, None)
            self.newest_ts.pop(user, None)

    def from_checkpoint(self, offsets: Mapping[int, int]) -> None:
        self.covered = dict(offsets)
        self.seen = set(offsets)

    def restore_user(self, user: UserId, restored: Restored, *, committed: int) -> None:
        """``user``'s state was loaded from the changelog; ahead of ``committed``, its
        events up to ``restored.offset`` are skipped."""
        self.newest_ts[user] = restored.ts
        if restored.offset >= committed:
            self.restored[user] = restored
        else:
            self.restored.pop(user, None)

    def restored_to(self, partitions: Iterable[int], committed: Mapping[int, int]) -> None:
        """``partitions`` were restored up to their ``committed`` offsets."""
        for p in partitions:
            self.covered[p] = committed[p]
            self.uncovered.discard(p)

    def revoke(self, partitions: Iterable[int]) -> None:
        """``partitions`` are gone: their users restored ahead lose their skip list."""
        gone = set(partitions)
        for user in [u for u, r in self.restored.items() if r.partition in gone]:
            # should the partition come back, the changelog restore (not replay) rebuilds
            # the skip list, so "covered" must not claim the partition
            partition = self.restored.pop(user).partition
            self.covered.pop(partition, None)
            # the batch in flight may be settled after this (overlapped acks): it must not
            # put the partition back
            self.uncovered.add(partition)

    def settled(self, offsets: Mapping[TopicPartition, int]) -> None:
        """A batch that consumed up to ``offsets`` is committed."""
        for tp, off in offsets.items():
            if tp.partition not in self.uncovered:
                self.covered[tp.partition] = off + 1
        if self.restored:
            # once processing has passed a restored user's offset, its state is simply
            # "covered" like every other user's
            passed = [
                u for u, r in self.restored.items() if r.offset < self.covered.get(r.partition, 0)
            ]
            for user in passed:
                del self.restored[user]

    def offsets(self, partitions: Iterable[TopicPartition]) -> dict[int, int]:
        """The covered offsets of ``partitions`` (those covered at all)."""
        return {
            tp.partition: self.covered[tp.partition]
            for tp in partitions
            if tp.partition in self.covered
        }


@dataclass(slots=True)
class SharedState:
    """What the item-state topic holds: the checkpoint to start from, per-item snapshots."""

    checkpoint: ckpt.Checkpoint | None = None
    items: dict[bytes, bytes] = field(default_factory=dict)
    #: checkpoint name -> chunk slot its manifest points to
    slots: dict[str, str] = field(default_factory=dict)
    #: checkpoint name -> the deltas its manifest lists (tombstoned after its next base)
    deltas: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class Recovery:
    """Restores model state from the item-state, changelog and events topics.

    ``user_state``: users come back from the changelog; ``item_state``: items from their
    per-item snapshots; ``checkpoints``: the model from whole-model checkpoints, then replay.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        intake: Intake,
        coverage: Coverage,
        user_state: bool,
        item_state: bool,
        checkpoints: bool,
        instance_id: str = "",
        max_replay: int = 50_000,
        max_batch: int = 2000,
        freeze: bool = True,
        health: Any = None,
        forgotten: Mapping[UserId, int] | None = None,
    ) -> None:
        self.settings = settings
        #: user -> ``ts`` of its deletion request (the users table's tombstones)
        self._forgotten: Mapping[UserId, int] = forgotten if forgotten is not None else {}
        #: users whose changelog record predates their deletion request: the request was
        #: carried out, but its tombstones are not durable (the worker sends them again)
        self.stale: dict[UserId, Forget] = {}
        self._intake = intake
        self._coverage = coverage
        self.user_state = user_state
        self.item_state = item_state
        self.checkpoints = checkpoints
        self._instance_id = instance_id
        self._max_replay = max_replay
        self._max_batch = max_batch
        self._freeze = freeze
        self._health = health
        self._events_topic = settings.topic(EVENTS.name)
        self._changelog_topic = settings.topic(CHANGELOG.name)
        self._item_state_topic = settings.topic(ITEM_STATE.name)

    # -- shared state (start-up, rollback) -------------------------------------------
    def read_item_state(self) -> SharedState:
        """Read the item-state topic once: the checkpoint to start from (the worker's own,
        else the newest) and, without checkpoints, the per-item snapshots."""
        shared = SharedState()
        if not (self.item_state or self.checkpoints):
            return shared
        shelf = ckpt.Shelf()
        reader = PartitionReader(self.settings, self._item_state_topic, client_id="homerec-items")
        try:
            for rec in reader.read_to_end(reader.partitions()):
                if rec.key is None:
                    continue
                if ckpt.is_checkpoint_key(rec.key):
                    shelf.add(rec.key, rec.value)
                elif rec.value is not None and self.item_state:
                    shared.items[rec.key] = rec.value
        finally:
            reader.close()
        shared.slots = {n: slot for n in shelf.names() if (slot := shelf.slot(n)) is not None}
        shared.deltas = {n: d for n in shelf.names() if (d := shelf.delta_entries(n))}
        if self.checkpoints:
            shared.checkpoint = shelf.pick(self._instance_id or None)
        return shared

    def load_checkpoint(
        self, model: Recommender, cp: ckpt.Checkpoint | None
    ) -> tuple[Recommender, bool]:
        """Install ``cp`` into ``model``; returns the model (a fresh clone if ``cp`` did not
        fit it) and whether it was loaded."""
        if cp is None:
            return model, False
        try:
            model.load_state_dict(cp.model_state())
        except (StateError, KeyError, TypeError, ValueError) as exc:
            # e.g. another model or other hyperparameters than the checkpoint's writer
            log.warning("checkpoint %r not usable (%s); starting without it", cp.name, exc)
            return model.clone(), False
        self._coverage.from_checkpoint(cp.offsets)
        self._intake.window.extend(cp.ids)
        log.info(
            "loaded checkpoint %r (%.1f MB, %d deltas, %d users, partitions %s, %.0fs old)",
            cp.name,
            cp.nbytes / 1e6,
            len(cp.deltas),
            model.n_users if isinstance(model, Sized) else 0,
            sorted(cp.offsets),
            max(0.0, (now_ms() - cp.ts) / 1000),
        )
        return model, True

    def load_items(self, model: Recommender, items: Mapping[bytes, bytes]) -> None:
        """Install per-item snapshots (only without a checkpoint: a checkpoint is a
        consistent state that replay brings up to date, newer item records would break it)."""
        if not self.item_state or not isinstance(model, ItemStateful):
            return
        for key, value in items.items():
            model.load_item_state(key.decode("utf-8"), unpackb(value))
        log.info("restored %d item states", len(items))

    # -- partitions (assignment, rollback) -----------------------------------------
    def restore(
        self,
        model: Recommender,
        consumer: Any,
        partitions: list[TopicPartition],
        *,
        choose: Callable[[Mapping[int, tuple[int, int]]], dict[int, tuple[int, int]]] | None = None,
    ) -> None:
        """Bring the state of newly assigned ``partitions`` up to their committed offsets.

        A partition the model covers (from a checkpoint, because this worker processed it,
        or from offset 0 when the model has never seen it) replays its events from there,
        if the log still starts at or before that offset (retention) and within
        ``max_replay`` events in all: exact. Any other partition loads its users' latest
        changelog records. ``choose`` (a shared item side: :mod:`streams.worker.sharing`)
        is given the replay ranges and returns those that may be replayed, each perhaps
        reaching beyond the committed offset (the users of those events are then
        restored ahead, as from the changelog); the others load the changelog.
        """
        started = time.perf_counter()
        cov = self._coverage
        committed = {tp.partition: (consumer.committed(tp) or 0) for tp in partitions}
        if self.checkpoints:
            # partitions the model knows nothing of are "covered" at offset 0
            for tp in partitions:
                if tp.partition not in cov.seen:
                    cov.covered.setdefault(tp.partition, 0)
        # a replay can only start where the log still has the events (retention deletes)
        first = consumer.beginning_offsets(partitions) if cov.covered else {}
        replay: dict[int, tuple[int, int]] = {}
        from_changelog: list[TopicPartition] = []
        budget = self._max_replay
        for tp in partitions:
            cov.seen.add(tp.partition)
            start, stop = cov.covered.get(tp.partition), committed[tp.partition]
            if start is not None and first.get(tp, 0) <= start <= stop and stop - start <= budget:
                replay[tp.partition] = (start, stop)
                budget -= stop - start
            else:
                from_changelog.append(tp)
        ahead: dict[int, int] = {}
        if choose is not None:
            allowed = choose(replay)
            for p in sorted(set(replay) - set(allowed)):
                del replay[p]
                from_changelog.append(TopicPartition(self._events_topic, p))
            for p, (start, stop) in allowed.items():
                if stop > committed[p]:
                    ahead[p] = stop  # processed and shared, not committed yet: replayed too
                replay[p] = (start, stop)
        self._restore_users(model, from_changelog, committed)
        if ahead:
            # what the replay learns beyond the committed offsets is consumed again: its
            # users are "restored ahead", so the loop skips those events and republishes
            self._mark_ahead({p: (committed[p], stop) for p, stop in ahead.items()}, committed)
        replayed = self._replay(model, replay)
        cov.restored_to(committed, committed)
        freeze_heap("restore", enabled=self._freeze)
        elapsed = time.perf_counter() - started
        m.STATE_RESTORE.observe(elapsed)
        log.info(
            "restored partitions %s in %.2fs: %s replayed (%d events), %s from the changelog",
            sorted(committed),
            elapsed,
            sorted(replay),
            replayed,
            sorted(tp.partition for tp in from_changelog),
        )

    def _mark_ahead(
        self, ranges: Mapping[int, tuple[int, int]], committed: Mapping[int, int]
    ) -> None:
        """The users of the events in ``ranges`` (beyond the committed offsets) are marked
        restored up to their last event there (at-least-once only: a shared batch's output
        was acknowledged, the worker died before committing its offsets)."""
        newest: dict[UserId, Restored] = {}
        reader = PartitionReader(self.settings, self._events_topic, client_id="homerec-replay")
        try:
            for rec in reader.read_range(ranges, 300.0):
                try:
                    event = decode_event(rec.key, rec.value)
                except InvalidEvent:
                    continue
                ts = max(event.ts, newest[event.user].ts) if event.user in newest else event.ts
                newest[event.user] = Restored(rec.partition, rec.offset, ts)
        finally:
            reader.close()
        for user, restored in newest.items():
            self._coverage.restore_user(user, restored, committed=committed[restored.partition])
        log.info("replaying beyond the committed offsets, up to %s", dict(ranges))

    def take_stale(self) -> list[Forget]:
        """The users whose tombstones are to be sent again (see :attr:`stale`)."""
        stale, self.stale = list(self.stale.values()), {}
        return stale

    def _replay(self, model: Recommender, ranges: dict[int, tuple[int, int]]) -> int:
        """Learn the events of ``ranges`` again (no lists are published): they were
        processed before, by this worker's predecessor or another worker."""
        if not any(stop > start for start, stop in ranges.values()):
            return 0
        reader = PartitionReader(self.settings, self._events_topic, client_id="homerec-replay")
        n = 0
        try:
            for events in _chunks(
                self._intake.replayed(reader.read_range(ranges, 300.0)), self._max_batch
            ):
                model.learn_many(events)
                n += len(events)
                if len(events) == self._max_batch and self._health is not None:
                    self._health.beat()  # a long replay is progress, not a wedged loop
        finally:
            reader.close()
        m.STATE_REPLAYED.inc(n)
        return n

    def _restore_users(
        self, model: Recommender, partitions: list[TopicPartition], committed: Mapping[int, int]
    ) -> None:
        """Load the users of ``partitions`` from the changelog (their latest state)."""
        if not self.user_state or not partitions or not isinstance(model, UserStateful):
            return
        started = time.perf_counter()
        reader = PartitionReader(self.settings, self._changelog_topic, client_id="homerec-restore")
        users = 0
        # users whose latest record is a tombstone (or older than their deletion request):
        # erased in one pass at the end (a record after the tombstone brings them back)
        erased: dict[UserId, int] = {}
        forgotten = self._forgotten
        try:
            for rec in reader.read_to_end([tp.partition for tp in partitions]):
                user = rec.key.decode("utf-8")
                if rec.value is None:
                    erased[user] = rec.partition
                    continue
                record = unpackb(rec.value)
                asked = forgotten.get(user)
                if asked is not None and int(record.get("t", 0)) <= asked:
                    # the state of the erased user: its tombstone never became durable
                    erased[user] = rec.partition
                    self.stale[user] = Forget(user, rec.partition)
                    continue
                erased.pop(user, None)
                self.stale.pop(user, None)
                model.load_user_state(user, record["s"])
                restored = Restored(rec.partition, int(record["o"]), int(record.get("t", 0)))
                self._coverage.restore_user(
                    user, restored, committed=committed.get(rec.partition, 0)
                )
                users += 1
                if self._health is not None and users % 10_000 == 0:
                    self._health.beat()  # a long restore is progress, not a wedged loop
        finally:
            reader.close()
        if erased:
            if isinstance(model, Forgetful):
                model.forget_users(erased)
            self._coverage.forget(erased)
        log.info(
            "restored %d user states from %s partitions %s in %.2fs",
            users,
            self._changelog_topic,
            sorted(tp.partition for tp in partitions),
            time.perf_counter() - started,
        )


def _chunks(events: Iterable[Event], size: int) -> Iterator[list[Event]]:
    """``events`` in lists of ``size`` (the last one shorter, possibly empty)."""
    chunk: list[Event] = []
    for event in events:
        chunk.append(event)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    yield chunk


def freeze_heap(after: str, *, enabled: bool = True) -> None:
    """``gc.collect()`` then ``gc.freeze()`` (see ``WorkerConfig.freeze_heap``).

    Frozen objects are still freed when no longer referenced; only cyclic garbage
    among them would stay (a start-up or a restore leaves none: collected first)."""
    if not enabled:
        return
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    log.debug(
        "heap frozen after %s: %d objects in %.0f ms",
        after,
        gc.get_freeze_count(),
        1000 * (time.perf_counter() - started),
    )

"""When to snapshot the model: whole-model checkpoints, or per-item snapshots without them.

A **checkpoint** (:mod:`streams.checkpoint`) is taken between batches right after
a commit, so the state is exactly "every event before the covered offsets". Only
the snapshot (``state_dict``, a copy of the model's tables) stalls the loop;
encoding and sending happen on the :class:`~streams.checkpoint_writer.CheckpointWriter`
thread. A big model takes long to write, so checkpoints are spaced to cost at
most 1/20 of the loop's time (replays grow instead; ``max_replay`` bounds them).
Best effort: a failed checkpoint is logged, the previous one still holds.

**Item snapshots** are the approximate item-side restore when checkpoints are
off: the state of the items changed since the last snapshot, every
``item_state_every_s``, sent with a batch (inside its transaction with
exactly-once).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from homerec.models.base import Recommender
from homerec.models.stateful import ItemStateful
from homerec.state_io import iter_packb_map, packb
from streams import checkpoint as ckpt
from streams import metrics as m
from streams.checkpoint_writer import CheckpointWriter, WriteResult
from streams.worker.delivery import now_ms

__all__ = ["CheckpointSchedule", "ItemSnapshots"]

log = logging.getLogger(__name__)

#: sends one record: ``(topic, key, value)``
Send = Callable[[str, bytes, bytes], None]


class CheckpointSchedule:
    """Takes whole-model checkpoints every ``every_s`` seconds (0: never)."""

    def __init__(self, topic: str, *, every_s: float, instance_id: str = "") -> None:
        self.topic = topic
        self.enabled = every_s > 0
        self._every_s = every_s
        self._instance_id = instance_id
        self._writer: CheckpointWriter | None = None
        #: checkpoint name -> chunk slot its manifest points to (the next write uses the other)
        self.slots: dict[str, str] = {}
        # the first checkpoint follows the first batch: a worker that dies young has one
        self._last = -float("inf")
        self._cost_s = 0.0
        #: a checkpoint is wanted as soon as one can be started (:meth:`soon`)
        self._urgent = False

    def open(self, producer: Any) -> None:
        """Checkpoints are sent on a thread with ``producer``, a producer of their own."""
        self._writer = CheckpointWriter(producer, self.topic, on_done=self._done)

    @property
    def busy(self) -> bool:
        return self._writer is not None and self._writer.busy

    def wait(self) -> None:
        """Let the checkpoint on its way land (a half-written one is of no use)."""
        if self._writer is not None:
            self._writer.wait()

    @property
    def last(self) -> WriteResult | None:
        """How the last write ended (None before the first)."""
        return self._writer.last if self._writer is not None else None

    @property
    def urgent(self) -> bool:
        """A checkpoint was asked for with :meth:`soon` and not started yet."""
        return self._urgent

    def soon(self) -> None:
        """:meth:`due` says yes until a checkpoint is actually started (after a deletion
        request: the newest checkpoint must hold no trace of the erased users, and the
        one on its way may have been snapshot before)."""
        self._urgent = True

    def due(self, *, force: bool) -> bool:
        """Whether a checkpoint is to be taken now; if so, its time is taken."""
        if not self.enabled:
            return False
        now = time.monotonic()
        every = max(self._every_s, 20.0 * self._cost_s)
        if not force and not self._urgent and now - self._last < every:
            return False
        self._last = now
        return True

    def take(
        self,
        model: Recommender,
        offsets: Mapping[int, int],
        ids: Sequence[str],
        *,
        force: bool,
        shared: Mapping[str, Any] | None = None,
    ) -> None:
        """Snapshot ``model`` (covering ``offsets``, with the idempotence window ``ids``, and
        the item updates ``shared`` says) and hand it to the writer; ``force`` waits for a
        write in flight, then for this one."""
        writer = self._writer
        if not offsets or writer is None:
            return
        if writer.busy:
            if not force:
                return  # the previous one is still on its way; the next one comes later
            writer.wait()
        self._urgent = False
        started = time.perf_counter()
        state = model.state_dict()
        # named by the stable --instance-id, else by the partitions it covers: a name per
        # process would leave a whole model behind in the compacted topic at every restart
        name = self._instance_id or "p" + "-".join(str(p) for p in sorted(offsets))
        slot = ckpt.next_slot(self.slots.get(name))
        offsets, ids, ts = dict(offsets), list(ids), now_ms()
        shared = dict(shared) if shared else None

        def encode() -> tuple[list[tuple[bytes, bytes]], int]:
            # packb({"state": state}), value by value, handing the GIL back in between
            parts = []
            for part in iter_packb_map({"state": state}, depth=2):
                parts.append(part)
                time.sleep(0)
            data = b"".join(parts)
            records = ckpt.encode(
                name, data, offsets=offsets, ids=ids, ts=ts, slot=slot, shared=shared
            )
            return records, len(data)

        writer.start(name, slot, encode)
        self._cost_s = time.perf_counter() - started
        m.MODEL_CHECKPOINT_SNAPSHOT_SECONDS.observe(self._cost_s)
        log.info(
            "checkpoint %r: snapshot of partitions %s in %.2fs, writing to slot %s",
            name,
            sorted(offsets),
            self._cost_s,
            slot,
        )
        if force:
            writer.wait()

    def _done(self, result: WriteResult) -> None:
        """The writer thread's report (runs on that thread: bookkeeping only)."""
        if result.ok:
            self.slots[result.name] = result.slot
            m.MODEL_CHECKPOINT_SECONDS.observe(result.seconds)
            m.MODEL_CHECKPOINT_BYTES.set(result.nbytes)
            log.info(
                "checkpoint %r written: %.1f MB in %.2fs",
                result.name,
                result.nbytes / 1e6,
                result.seconds,
            )
        else:
            log.warning(
                "checkpoint %r not written (%s); the previous one still holds",
                result.name,
                result.error,
            )


class ItemSnapshots:
    """Sends the state of the items changed since the last snapshot, every ``every_s``."""

    def __init__(self, topic: str, *, enabled: bool, every_s: float) -> None:
        self.topic = topic
        self.enabled = enabled
        self._every_s = every_s
        self._dirty: set[str] = set()
        self._last = time.monotonic()

    @property
    def pending(self) -> bool:
        return bool(self._dirty)

    def touched(self, items: Iterable[str]) -> None:
        if self.enabled:
            self._dirty.update(items)

    def clear(self) -> None:
        self._dirty.clear()

    def send(self, model: Recommender, send: Send, *, force: bool) -> None:
        """Send the changed items' state with ``send`` if the time has come (or ``force``)."""
        if not self.enabled or not self._dirty or not isinstance(model, ItemStateful):
            return
        now = time.monotonic()
        if not force and now - self._last < self._every_s:
            return
        items = sorted(self._dirty)
        self._dirty.clear()
        self._last = now
        for item, state in zip(items, model.item_state_many(items), strict=True):
            if state is not None:
                send(self.topic, item.encode("utf-8"), packb(state))

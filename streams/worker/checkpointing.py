"""When to snapshot the model: checkpoints, or per-item snapshots without them.

A **checkpoint** (:mod:`streams.checkpoint`) is taken between batches right after
a commit, so the state is exactly "every event before the covered offsets". Only
the snapshot stalls the loop: a delta (the users changed since the previous
checkpoint, and the item side) in steady state, a whole ``state_dict`` when there
is no base to build on (see :class:`CheckpointSchedule`); encoding, sending and
compaction happen on the :class:`~streams.checkpoint_writer.CheckpointWriter`
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
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from homerec.models.base import Recommender
from homerec.models.deltas import apply_delta
from homerec.models.stateful import ItemStateful
from homerec.state_io import iter_packb_map, packb, unpackb
from streams import checkpoint as ckpt
from streams import metrics as m
from streams.checkpoint_writer import CheckpointWriter, Encoder, WriteResult
from streams.worker.delivery import now_ms

__all__ = ["CheckpointSchedule", "ItemSnapshots"]

log = logging.getLogger(__name__)

#: sends one record: ``(topic, key, value)``
Send = Callable[[str, bytes, bytes], None]


@dataclass(slots=True)
class _Chain:
    """The checkpoint of a name as last written: its base and the deltas after it."""

    #: the checkpoint's name (a chain never spans two: its deltas name its base's chunks)
    name: str
    #: the model it describes (a rebuilt or reloaded model starts a new chain)
    model: weakref.ref[Any]
    #: the base's full state, kept to compact into (merged off the loop)
    state: dict[str, Any]
    #: the base's manifest entry (``id``, ``slot``, ``chunks``, ``bytes``)
    base: dict[str, Any]
    #: the deltas written after the base: manifest entries, and their states
    entries: list[dict[str, Any]] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)

    @property
    def delta_bytes(self) -> int:
        return sum(int(e["bytes"]) for e in self.entries)


class CheckpointSchedule:
    """Takes checkpoints every ``every_s`` seconds (0: never): incremental ones (deltas
    after a base) for models that track their changes, whole-model ones otherwise.

    A base costs the loop a whole ``state_dict``; it is taken only when there is no chain
    to build on (the first checkpoint of a model, after a rollback or a failed write).
    Later checkpoints cost the loop a delta (the users changed since the previous one,
    plus the item side). A new base is written (compaction) once ``max_deltas`` deltas
    or deltas of ``compact_ratio`` times the base's bytes piled up, and after a deletion
    request (:meth:`soon`): the writer thread merges the kept base state and the deltas
    (:func:`~homerec.models.deltas.apply_delta`), so compaction costs the loop a delta
    too. The price is memory: the base's state is kept between checkpoints (about the
    model's own size, and the deltas' since).
    """

    def __init__(
        self,
        topic: str,
        *,
        every_s: float,
        instance_id: str = "",
        max_deltas: int = 8,
        compact_ratio: float = 0.5,
    ) -> None:
        self.topic = topic
        self.enabled = every_s > 0
        self._every_s = every_s
        self._instance_id = instance_id
        self._max_deltas = max_deltas
        self._compact_ratio = compact_ratio
        self._writer: CheckpointWriter | None = None
        #: checkpoint name -> chunk slot its manifest points to (the next write uses the other)
        self.slots: dict[str, str] = {}
        #: checkpoint name -> delta entries of its manifest as read at start-up (tombstoned
        #: after the next base of that name)
        self.stale_deltas: dict[str, list[dict[str, Any]]] = {}
        # the first checkpoint follows the first batch: a worker that dies young has one
        self._last = -float("inf")
        self._cost_s = 0.0
        #: a checkpoint is wanted as soon as one can be started (:meth:`soon`)
        self._urgent = False
        #: the next checkpoint must be a base (:meth:`soon`: no delta may list erased users)
        self._compact = False
        self._chain: _Chain | None = None
        # what the chain becomes if the write in flight succeeds (set by the writer thread)
        self._next_chain: _Chain | None = None
        #: what the last :meth:`take` started: "base" (snapshot on the loop), "delta" or
        #: "compaction" (a delta on the loop, the merge on the writer), "" none
        self.kind = ""

    def restored(self, slots: dict[str, str], deltas: dict[str, list[dict[str, Any]]]) -> None:
        """The checkpoints as read from the topic at a (re)start or rollback: the next one
        is a base (the model was reloaded), into the slots not in use; the deltas found
        are tombstoned after it."""
        self.slots = slots
        self.stale_deltas = deltas
        self._chain = None

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
        one on its way may have been snapshot before). It is a new base: the base in use
        still holds the erased users' rows (a delta would only mark them gone)."""
        self._urgent = True
        self._compact = True

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
        # named by the stable --instance-id, else by the partitions it covers: a name per
        # process would leave a whole model behind in the compacted topic at every restart
        name = self._instance_id or "p" + "-".join(str(p) for p in sorted(offsets))
        chain = self._chain
        if chain is not None and (chain.model() is not model or chain.name != name):
            chain = None  # another model object (rebuilt after a rollback), other partitions
        take_delta = getattr(model, "state_delta", None)
        delta = take_delta() if chain is not None and callable(take_delta) else None
        meta = _Meta(name, dict(offsets), list(ids), now_ms(), dict(shared) if shared else None)
        if delta is None:
            encode, slot = self._base(model, meta, self._chain)
        elif (
            self._compact
            or delta["gone"]  # a delta never carries erased users' ids to the topic
            or len(chain.entries) >= self._max_deltas  # type: ignore[union-attr]
            or chain.delta_bytes > self._compact_ratio * int(chain.base["bytes"])  # type: ignore[union-attr]
        ):
            encode, slot = self._compaction(chain, delta, meta)  # type: ignore[arg-type]
        else:
            encode, slot = self._delta(chain, delta, meta)  # type: ignore[arg-type]
        self._compact = False
        writer.start(name, slot, encode)
        self._cost_s = time.perf_counter() - started
        m.MODEL_CHECKPOINT_SNAPSHOT_SECONDS.observe(self._cost_s)
        log.info(
            "checkpoint %r: %s of partitions %s in %.3fs on the loop, writing to slot %s",
            name,
            self.kind,
            sorted(offsets),
            self._cost_s,
            slot,
        )
        if force:
            writer.wait()

    # -- the three kinds (each returns the writer's encoder and the base slot) ----------
    def _base(self, model: Recommender, meta: _Meta, chain: _Chain | None) -> tuple[Encoder, str]:
        """A whole ``state_dict``, snapshot on the loop; a chain starts from it."""
        self.kind = "base"
        state = model.state_dict()
        begin = getattr(model, "begin_deltas", None)
        if callable(begin):
            begin()
        ref = weakref.ref(model)
        # the deltas of the chain it replaces (or of the manifest found at start-up)
        old = {meta.name: self.stale_deltas.pop(meta.name, [])}
        if chain is not None:
            old[chain.name] = list(chain.entries)
        return self._full_encoder(meta, ref, lambda: state, old), ckpt.next_slot(
            self.slots.get(meta.name)
        )

    def _compaction(self, chain: _Chain, delta: dict[str, Any], meta: _Meta) -> tuple[Encoder, str]:
        """A new base: the chain's base state and deltas merged on the writer thread."""
        self.kind = "compaction"

        def merged() -> dict[str, Any]:
            state = chain.state
            for d in (*chain.states, delta):
                state = apply_delta(state, d)
            return state

        encode = self._full_encoder(meta, chain.model, merged, {chain.name: list(chain.entries)})
        return encode, ckpt.next_slot(self.slots.get(meta.name))

    def _full_encoder(
        self,
        meta: _Meta,
        ref: weakref.ref[Any],
        build: Callable[[], dict[str, Any]],
        old: dict[str, list[dict[str, Any]]],
    ) -> Encoder:
        slot = ckpt.next_slot(self.slots.get(meta.name))

        def encode() -> tuple[list[tuple[bytes, bytes]], int, list[tuple[bytes, None]]]:
            state = build()
            data = _packed(state)
            records = ckpt.encode(meta.name, data, offsets=meta.offsets, ids=meta.ids,
                                  ts=meta.ts, slot=slot, shared=meta.shared)  # fmt: skip
            base = {k: v for k, v in unpackb(records[-1][1]).items() if k in _BASE_KEYS}
            self._next_chain = _Chain(meta.name, ref, state, base)
            gone = [
                (k, None) for name, entries in old.items() for k in ckpt.delta_keys(name, entries)
            ]
            return records, len(data), gone

        return encode

    def _delta(self, chain: _Chain, delta: dict[str, Any], meta: _Meta) -> tuple[Encoder, str]:
        """The changes since the previous checkpoint, listed after the chain's base."""
        self.kind = "delta"

        def encode() -> tuple[list[tuple[bytes, bytes]], int]:
            data = _packed(delta)
            records, entry = ckpt.encode_delta(
                meta.name, data, base=chain.base, deltas=chain.entries, offsets=meta.offsets,
                ids=meta.ids, ts=meta.ts, shared=meta.shared,
            )  # fmt: skip
            self._next_chain = _Chain(
                chain.name, chain.model, chain.state, chain.base, [*chain.entries, entry],
                [*chain.states, delta],
            )  # fmt: skip
            return records, len(data)

        return encode, str(chain.base["slot"])

    def _done(self, result: WriteResult) -> None:
        """The writer thread's report (runs on that thread: bookkeeping only)."""
        # a failed write breaks the chain (the changes it carried are in no checkpoint):
        # the next checkpoint is a base, which tombstones the deltas the manifest in use lists
        if not result.ok and self._chain is not None:
            self.stale_deltas.setdefault(self._chain.name, []).extend(self._chain.entries)
        self._chain = self._next_chain if result.ok else None
        self._next_chain = None
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


_BASE_KEYS = frozenset({"id", "slot", "chunks", "bytes"})


@dataclass(frozen=True, slots=True)
class _Meta:
    """What a checkpoint covers, besides the state."""

    name: str
    offsets: dict[int, int]
    ids: list[str]
    ts: int
    shared: dict[str, Any] | None


def _packed(state: Mapping[str, Any]) -> bytes:
    """packb({"state": state}), value by value, handing the GIL back in between (runs on
    the writer thread: the loop slows a little instead of stopping)."""
    parts = []
    for part in iter_packb_map({"state": state}, depth=2):
        parts.append(part)
        time.sleep(0)
    return b"".join(parts)


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

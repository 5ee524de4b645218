"""Intake: consumed records in, a batch of new events out (decode, validate, dedup, dead letters).

Pure: no client, no network. It takes plain records (anything with ``topic``,
``partition``, ``offset``, ``key`` and ``value``, as kafka-python's
``ConsumerRecord``) and returns a :class:`Batch`. Three kinds of repeats are
dropped:

* an event whose ``id`` (unique per user) was applied within the last
  ``dedup_window`` events, is in the same batch, or in the batch still in flight
  (a producer retry);
* an event at or below the offset of a user state restored from the changelog
  ahead of the committed offset (already applied to that state).

And one kind of forgotten event: an event of a user whose deletion request
(:mod:`~streams.worker.users`) is newer than the event's ``ts`` belongs to the
user that was erased, and is never learned (outcome ``forgotten``).

Ids enter the window only once their batch is durable (:meth:`Intake.remember`):
a batch that is rolled back must not leave its ids behind.

>>> from collections import namedtuple
>>> from streams.codec import encode_event
>>> Rec = namedtuple("Rec", "topic partition offset key value")
>>> key, value = encode_event(Event("u1", "i1", "click", 1_700_000_000_000, id="e1"))
>>> intake = Intake(dedup_window=10)
>>> batch = intake.take(
...     [Rec("ev", 0, 5, key, value), Rec("ev", 0, 6, key, value), Rec("ev", 0, 7, b"u1", None)]
... )
>>> [e.item for e in batch.events], batch.source["u1"], batch.offsets
(['i1'], Source(partition=0, offset=5), {TopicPartition(topic='ev', partition=0): 7})
>>> [d.headers[0] for d in batch.dead]
[('homerec.reason', b'empty')]
>>> dict(batch.counts)
{('click', 'applied'): 1, ('click', 'duplicate'): 1, ('invalid', 'invalid'): 1}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Container, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from kafka.structs import TopicPartition

from homerec.dedup import IdWindow
from homerec.errors import InvalidEvent
from homerec.events import Event
from homerec.limits import Limits
from homerec.typing import UserId
from streams import metrics as m
from streams.codec import decode_event, encode_dead_letter

__all__ = [
    "Batch",
    "DeadLetterRecord",
    "Intake",
    "Record",
    "Restored",
    "Source",
    "dead_letter",
    "id_key",
]


class Record(Protocol):
    """What intake reads of a consumed record."""

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...

    @property
    def key(self) -> bytes | None: ...

    @property
    def value(self) -> bytes | None: ...


class Source(NamedTuple):
    """Where the newest event of a user in a batch came from (its lists and changelog go there)."""

    partition: int
    offset: int


class Restored(NamedTuple):
    """A user state restored from the changelog ahead of the committed offset."""

    partition: int
    #: offset of the last event applied to the restored state
    offset: int
    #: ``ts`` of the newest event applied to it
    ts: int


class DeadLetterRecord(NamedTuple):
    """A record for the dead-letter topic."""

    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass(slots=True)
class Batch:
    """What one poll produced, after decoding and dropping repeats."""

    events: list[Event] = field(default_factory=list)
    #: last offset consumed per partition (duplicates and dead letters included)
    offsets: dict[TopicPartition, int] = field(default_factory=dict)
    #: user -> where the newest event of this batch for the user came from
    source: dict[UserId, Source] = field(default_factory=dict)
    newest_ts: dict[UserId, int] = field(default_factory=dict)
    dead: list[DeadLetterRecord] = field(default_factory=list)
    #: idempotence keys of the applied events (entered into the window once durable)
    ids: dict[str, None] = field(default_factory=dict)
    #: records per (event type, outcome): applied, duplicate, or ("invalid", "invalid")
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def n_invalid(self) -> int:
        return self.counts["invalid", "invalid"]


class Intake:
    """Decodes records into batches; owns the idempotence window."""

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        dedup_window: int = 100_000,
        forgotten: Mapping[UserId, int] | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self._size = dedup_window
        self.window = IdWindow(dedup_window)
        #: user -> ``ts`` of its deletion request: its events up to then are not learned
        self.forgotten: Mapping[UserId, int] = forgotten if forgotten is not None else {}

    def forget(self, users: Iterable[UserId]) -> None:
        """Drop the idempotence keys of ``users`` from the window."""
        prefixes = tuple(id_key(u, "") for u in users)
        if prefixes:
            self.window.forget_prefixes(prefixes)

    def reset(self) -> None:
        """Forget every id (a rollback: the window is rebuilt from what is durable)."""
        self.window = IdWindow(self._size)

    def remember(self, ids: Iterable[str]) -> None:
        """Enter the ids of a durable batch into the window."""
        for key in ids:
            self.window.seen(key)

    def take(
        self,
        records: Iterable[Record],
        *,
        restored: MutableMapping[UserId, Restored] | None = None,
        in_flight: Container[str] = (),
    ) -> Batch:
        """Decode ``records`` (in offset order per partition) into a batch.

        ``restored``: users restored ahead of the committed offset; an entry goes once an
        event past its offset arrives (a user's events are in one partition, in order).
        ``in_flight``: ids of the batch sent but not yet durable.
        """
        batch = _decode(records, self, restored if restored is not None else {}, in_flight)
        for (etype, outcome), n in batch.counts.items():  # one update per label set and batch
            m.EVENTS_CONSUMED.labels(type=etype, outcome=outcome).inc(n)
        return batch

    def replayed(self, records: Iterable[Record]) -> Iterator[Event]:
        """The events of ``records`` read again on restore, entering their ids into the window;
        invalid ones were dead-lettered when first consumed and repeats applied once."""
        for rec in records:
            try:
                event = decode_event(rec.key, rec.value, self.limits)
            except InvalidEvent:
                continue
            if _forgotten(self.forgotten, event):
                continue
            if event.id is not None and self.window.seen(id_key(event.user, event.id)):
                continue
            yield event


def _decode(
    records: Iterable[Record],
    intake: Intake,
    restored: MutableMapping[UserId, Restored],
    in_flight: Container[str],
) -> Batch:
    batch = Batch()
    window, limits, counts = intake.window, intake.limits, batch.counts
    forgotten = intake.forgotten
    last: dict[tuple[str, int], int] = {}
    for rec in records:
        last[rec.topic, rec.partition] = rec.offset
        try:
            event = decode_event(rec.key, rec.value, limits)
        except InvalidEvent as exc:
            batch.dead.append(dead_letter(exc, rec.topic, rec))
            counts["invalid", "invalid"] += 1
            continue
        if forgotten and _forgotten(forgotten, event):
            counts[event.type, "forgotten"] += 1
            continue
        ahead = restored.get(event.user)
        if ahead is not None:
            if rec.offset <= ahead.offset:
                # already applied to the state restored from the changelog
                counts[event.type, "duplicate"] += 1
                batch.source.setdefault(event.user, Source(rec.partition, ahead.offset))
                batch.newest_ts.setdefault(event.user, ahead.ts)
                continue
            # past the restored state: this user's later events are new
            del restored[event.user]
        if event.id is not None:
            key = id_key(event.user, event.id)
            if key in window or key in batch.ids or key in in_flight:
                counts[event.type, "duplicate"] += 1
                continue
            batch.ids[key] = None
        batch.events.append(event)
        batch.source[event.user] = Source(rec.partition, rec.offset)
        if event.ts > batch.newest_ts.get(event.user, 0):
            batch.newest_ts[event.user] = event.ts
        counts[event.type, "applied"] += 1
    batch.offsets = {TopicPartition(t, p): off for (t, p), off in last.items()}
    return batch


def _forgotten(forgotten: Mapping[UserId, int], event: Event) -> bool:
    """Whether ``event`` belongs to a user erased after it happened."""
    asked = forgotten.get(event.user)
    return asked is not None and event.ts <= asked


def dead_letter(exc: InvalidEvent, topic: str, rec: Record) -> DeadLetterRecord:
    """The DLQ record for ``rec`` of ``topic``, counted by reason."""
    m.DLQ_MESSAGES.labels(reason=exc.reason).inc()
    key, value, headers = encode_dead_letter(
        exc, topic=topic, partition=rec.partition, offset=rec.offset, key=rec.key, value=rec.value
    )
    return DeadLetterRecord(key, value, headers)


def id_key(user: UserId, event_id: str) -> str:
    """The idempotence window's key of an event: ids are unique per user."""
    return f"{user}\x00{event_id}"

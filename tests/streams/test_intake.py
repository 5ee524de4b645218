"""Intake without a broker: plain records in, a batch out (decode, validate, dedup, dead letters)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import count

import msgpack
import pytest
from kafka.structs import TopicPartition

from homerec.events import Event
from streams.codec import decode_dead_letter, encode_event
from streams.worker.intake import Intake, Restored, Source, id_key

TS = 1_700_000_000_000
TOPIC = "t.events"


@dataclass(frozen=True)
class Rec:
    """A consumed record: the fields intake reads."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class Log:
    """Builds records with increasing offsets per partition."""

    def __init__(self) -> None:
        self._next: dict[int, count[int]] = {}

    def rec(self, key: bytes | None, value: bytes | None, partition: int = 0) -> Rec:
        offset = next(self._next.setdefault(partition, count()))
        return Rec(TOPIC, partition, offset, key, value)

    def event(self, event: Event, partition: int = 0) -> Rec:
        return self.rec(*encode_event(event), partition=partition)


def _click(user: str, item: str, n: int, id: str | None = None) -> Event:
    return Event(user, item, "click", TS + n, id=id)


BAD: list[tuple[str, bytes | None, bytes | None]] = [
    ("not_msgpack", b"u1", b"\xc1\xc1 not msgpack"),
    ("not_a_map", b"u1", msgpack.packb([1, 2, 3])),
    ("missing_field", b"u1", msgpack.packb({"user": "u1", "type": "click", "ts": TS})),
    ("unknown_type", b"u1", msgpack.packb({"user": "u1", "item": "i", "type": "like", "ts": TS})),
    (
        "not_finite",
        b"u1",
        msgpack.packb({"user": "u1", "item": "i", "type": "rating", "ts": TS, "value": math.nan}),
    ),
    ("key_mismatch", b"u2", msgpack.packb({"user": "u1", "item": "i", "type": "click", "ts": TS})),
    ("empty", b"u1", None),
]


def test_bad_messages_become_dead_letters_with_their_reason_and_bytes() -> None:
    log = Log()
    good = log.event(_click("u1", "i1", 0))
    bad = [log.rec(key, value) for _, key, value in BAD]
    batch = Intake().take([good, *bad])
    assert [e.item for e in batch.events] == ["i1"]
    letters = [decode_dead_letter(d.value) for d in batch.dead]
    assert [d.reason for d in letters] == [reason for reason, _, _ in BAD]
    for letter, rec, dead in zip(letters, bad, batch.dead, strict=True):
        assert (letter.key, letter.value, letter.offset) == (rec.key, rec.value, rec.offset)
        assert letter.topic == TOPIC and letter.detail
        assert dead.key == rec.key
        assert dict(dead.headers)["homerec.reason"] == letter.reason.encode()
    assert batch.n_invalid == len(BAD)
    # the offsets cover the dead letters too: they are consumed, not retried
    assert batch.offsets == {TopicPartition(TOPIC, 0): len(BAD)}


def test_repeats_within_the_batch_the_window_and_the_batch_in_flight_are_dropped() -> None:
    log = Log()
    intake = Intake(dedup_window=100)
    first = intake.take([log.event(_click("u1", "i1", 0, id="a"))])
    assert list(first.ids) == [id_key("u1", "a")]
    in_flight = first.ids  # sent, not durable yet: not in the window
    assert id_key("u1", "a") not in intake.window
    batch = intake.take(
        [
            log.event(_click("u1", "i1", 1, id="a")),  # the batch in flight has it
            log.event(_click("u1", "i2", 2, id="b")),
            log.event(_click("u1", "i2", 3, id="b")),  # repeat within this batch
            log.event(_click("u2", "i2", 4, id="b")),  # ids are unique per user only
            log.event(_click("u1", "i3", 5)),  # no id: never a repeat
        ],
        in_flight=in_flight,
    )
    assert [(e.user, e.item) for e in batch.events] == [("u1", "i2"), ("u2", "i2"), ("u1", "i3")]
    assert batch.counts == {("click", "duplicate"): 2, ("click", "applied"): 3}
    intake.remember(first.ids)  # durable now
    intake.remember(batch.ids)
    again = intake.take([log.event(_click("u1", "i9", 6, id=i)) for i in ("a", "b", "c")])
    assert [e.id for e in again.events] == ["c"]


def test_a_rolled_back_batch_leaves_no_ids_behind() -> None:
    log = Log()
    intake = Intake(dedup_window=100)
    intake.take([log.event(_click("u1", "i1", 0, id="a"))])  # never remembered: rolled back
    intake.remember(["u9\x00z"])
    intake.reset()
    redo = intake.take([log.event(_click("u1", "i1", 0, id="a"))])
    assert len(redo.events) == 1 and "u9\x00z" not in intake.window


def test_events_at_or_below_a_restored_users_offset_are_skipped() -> None:
    log = Log()
    recs = [log.event(_click("u1", f"i{n}", n)) for n in range(5)]  # offsets 0..4
    restored = {"u1": Restored(partition=0, offset=2, ts=TS + 2)}
    batch = Intake().take(recs, restored=restored)
    assert [e.item for e in batch.events] == ["i3", "i4"]
    assert batch.counts == {("click", "duplicate"): 3, ("click", "applied"): 2}
    assert restored == {}, "past the restored offset the user is like any other"
    assert batch.source["u1"] == Source(0, 4)
    assert batch.newest_ts["u1"] == TS + 4


def test_a_batch_of_only_skipped_events_still_republishes_the_restored_state() -> None:
    log = Log()
    recs = [log.event(_click("u1", f"i{n}", n)) for n in range(3)]
    restored = {"u1": Restored(partition=0, offset=7, ts=TS + 7)}
    batch = Intake().take(recs, restored=restored)
    assert batch.events == []
    # the list goes out with the restored state's source and newest ts
    assert batch.source == {"u1": Source(0, 7)} and batch.newest_ts == {"u1": TS + 7}
    assert "u1" in restored


def test_source_and_offsets_per_partition_and_counts_per_type() -> None:
    log = Log()
    recs = [
        log.event(Event("u1", "i1", "view", TS + 5), partition=0),
        log.event(Event("u1", "i2", "click", TS + 3), partition=0),
        log.event(Event("u2", "i1", "rating", TS + 1, 4.0), partition=3),
    ]
    batch = Intake().take(recs)
    assert batch.offsets == {TopicPartition(TOPIC, 0): 1, TopicPartition(TOPIC, 3): 0}
    assert batch.source == {"u1": Source(0, 1), "u2": Source(3, 0)}
    assert batch.newest_ts == {"u1": TS + 5, "u2": TS + 1}  # newest, not last
    assert batch.counts == {
        ("view", "applied"): 1,
        ("click", "applied"): 1,
        ("rating", "applied"): 1,
    }


def test_replayed_events_skip_invalid_ones_and_repeats_and_enter_the_window() -> None:
    log = Log()
    intake = Intake(dedup_window=100)
    intake.remember([id_key("u1", "old")])
    recs = [
        log.event(_click("u1", "i1", 0, id="old")),
        log.rec(b"u1", b"\xc1"),
        log.event(_click("u1", "i2", 1, id="new")),
        log.event(_click("u1", "i2", 2, id="new")),
        log.event(_click("u1", "i3", 3)),
    ]
    assert [e.item for e in intake.replayed(recs)] == ["i2", "i3"]
    assert id_key("u1", "new") in intake.window


@pytest.mark.parametrize("size", [0, 1])
def test_a_tiny_window_still_drops_repeats_within_a_batch(size: int) -> None:
    log = Log()
    batch = Intake(dedup_window=size).take(
        [log.event(_click("u1", "i1", n, id="same")) for n in range(3)]
    )
    assert len(batch.events) == 1

"""Checkpoint records: chunking, manifests, and which checkpoint a worker picks."""

from __future__ import annotations

import pytest

from homerec.errors import StateError
from streams.checkpoint import Shelf, encode, is_checkpoint_key, next_slot


def shelf_of(*records: list[tuple[bytes, bytes]]) -> Shelf:
    shelf = Shelf()
    for recs in records:
        for key, value in recs:
            shelf.add(key, value)
    return shelf


def test_round_trip_over_many_chunks() -> None:
    data = bytes(range(256)) * 40  # 10,240 bytes
    records = encode("w1", data, offsets={0: 12, 3: 7}, ids=["a", "b"], ts=100, chunk_bytes=1000)
    assert len(records) == 12  # 11 chunks, then the manifest
    assert all(is_checkpoint_key(k) for k, _ in records)
    cp = shelf_of(records).pick("w1")
    assert cp is not None
    assert (cp.name, cp.data, cp.offsets, cp.ids, cp.ts) == (
        "w1",
        data,
        {0: 12, 3: 7},
        ["a", "b"],
        100,
    )


def test_own_checkpoint_first_else_the_newest() -> None:
    old = encode("w1", b"one", offsets={0: 1}, ids=[], ts=100)
    new = encode("w2", b"two", offsets={1: 1}, ids=[], ts=200)
    shelf = shelf_of(old, new)
    assert shelf.names() == ["w1", "w2"]
    assert shelf.pick("w1").data == b"one"  # type: ignore[union-attr]
    assert shelf.pick("w9").data == b"two"  # type: ignore[union-attr]
    assert shelf.pick(None).data == b"two"  # type: ignore[union-attr]


def test_a_manifest_without_all_its_chunks_is_ignored() -> None:
    first = encode("w1", b"x" * 30, offsets={0: 1}, ids=[], ts=100, chunk_bytes=10)
    second = encode("w1", b"y" * 30, offsets={0: 9}, ids=[], ts=200, chunk_bytes=10)
    # the crash case: the second checkpoint's manifest and only one of its chunks survived
    shelf = shelf_of(first, [second[0], second[-1]])
    assert shelf.pick("w1") is None
    # with every chunk it is complete again, and the newer one wins per key
    assert shelf_of(first, second).pick("w1").data == b"y" * 30  # type: ignore[union-attr]


def test_an_older_complete_checkpoint_is_used_when_the_newest_is_broken() -> None:
    good = encode("w1", b"good", offsets={0: 1}, ids=[], ts=100)
    broken = encode("w2", b"z" * 20, offsets={0: 5}, ids=[], ts=300, chunk_bytes=10)
    shelf = shelf_of(good, broken[1:])  # chunk 0 of w2 is missing
    assert shelf.pick("w2").data == b"good"  # type: ignore[union-attr]


def test_tombstones_remove_a_checkpoint() -> None:
    records = encode("w1", b"data", offsets={0: 1}, ids=[], ts=1)
    shelf = shelf_of(records)
    shelf.add(records[-1][0], None)
    assert shelf.pick("w1") is None


def test_item_keys_are_not_checkpoint_keys() -> None:
    assert not is_checkpoint_key(b"item-42")
    assert not is_checkpoint_key(None)


def test_names_with_nul_are_refused() -> None:
    with pytest.raises(StateError):
        encode("a\x00b", b"", offsets={}, ids=[], ts=0)


def test_a_write_that_dies_in_the_other_slot_keeps_the_previous_checkpoint() -> None:
    first = encode("w1", b"x" * 30, offsets={0: 1}, ids=[], ts=100, chunk_bytes=10, slot="a")
    shelf = shelf_of(first)
    assert shelf.slot("w1") == "a" and next_slot(shelf.slot("w1")) == "b"
    second = encode("w1", b"y" * 30, offsets={0: 9}, ids=[], ts=200, chunk_bytes=10, slot="b")
    for key, value in second[:2]:  # died after two of three chunks, before the manifest
        shelf.add(key, value)
    cp = shelf.pick("w1")
    assert cp is not None and cp.data == b"x" * 30 and cp.offsets == {0: 1}
    shelf.add(*second[2])
    shelf.add(*second[3])  # finished: the manifest now points to slot b
    cp = shelf.pick("w1")
    assert cp is not None and cp.data == b"y" * 30 and shelf.slot("w1") == "b"


def test_checkpoints_without_slots_are_still_read() -> None:
    from homerec.state_io import packb

    # the key format before slots: \0ckpt\0<name>\0<n>, manifest without "slot"
    base = b"\x00ckpt\x00old"
    shelf = Shelf()
    shelf.add(base + b"\x000", packb({"id": "c1", "n": 0, "data": b"legacy"}))
    shelf.add(base, packb({"id": "c1", "chunks": 1, "offsets": {0: 3}, "ids": [], "ts": 1}))
    cp = shelf.pick("old")
    assert cp is not None and cp.data == b"legacy" and shelf.slot("old") is None


def test_unknown_slots_are_refused() -> None:
    with pytest.raises(StateError):
        encode("w1", b"", offsets={}, ids=[], ts=0, slot="c")

"""The checkpoint writer thread against the real broker: what it writes, one at a time,
and what a failure leaves behind."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from kafka import KafkaProducer

from streams.checkpoint import Shelf, encode, is_checkpoint_key, next_slot
from streams.checkpoint_writer import CheckpointWriter, WriteResult
from streams.config import Settings
from streams.topics import ITEM_STATE
from tests.streams.fixtures import read_all

pytestmark = pytest.mark.kafka


def _shelf(settings: Settings) -> Shelf:
    shelf = Shelf()
    for rec in read_all(settings, ITEM_STATE.name):
        if is_checkpoint_key(rec.key):
            shelf.add(rec.key, rec.value)
    return shelf


def _encoder(data: bytes, slot: str, *, gate: threading.Event | None = None) -> Any:
    def encode() -> tuple[list[tuple[bytes, bytes]], int]:
        if gate is not None:
            gate.wait(30)
        return encode_records(data, slot), len(data)

    return encode


def encode_records(data: bytes, slot: str) -> list[tuple[bytes, bytes]]:
    return encode("w1", data, offsets={0: len(data)}, ids=["u\x00e"], ts=len(data), slot=slot,
                  chunk_bytes=1000)  # fmt: skip


def test_writes_one_checkpoint_at_a_time_into_alternating_slots(
    settings: Settings, producer: KafkaProducer
) -> None:
    done: list[WriteResult] = []
    writer = CheckpointWriter(producer, settings.topic(ITEM_STATE.name), on_done=done.append)
    gate = threading.Event()
    first = bytes(range(256)) * 20  # 5 chunks
    assert writer.start("w1", "a", _encoder(first, "a", gate=gate))
    assert writer.busy
    # a second checkpoint while the first is in flight is refused, not queued
    assert not writer.start("w1", "b", _encoder(b"never", "b"))
    gate.set()
    result = writer.wait()
    assert result is not None and result.ok and result.nbytes == len(first)
    assert not writer.busy and done == [result]
    shelf = _shelf(settings)
    cp = shelf.pick("w1")
    assert cp is not None and cp.data == first and shelf.slot("w1") == "a"

    second = b"z" * 3500
    assert writer.start("w1", next_slot("a"), _encoder(second, "b"))
    assert writer.wait() is not None and done[-1].ok
    shelf = _shelf(settings)
    cp = shelf.pick("w1")
    assert cp is not None and cp.data == second and shelf.slot("w1") == "b"


def test_a_failed_write_is_reported_and_the_previous_checkpoint_holds(
    settings: Settings, producer: KafkaProducer
) -> None:
    writer = CheckpointWriter(producer, settings.topic(ITEM_STATE.name))
    good = b"g" * 2500
    writer.start("w1", "a", _encoder(good, "a"))
    assert writer.wait() is not None and writer.last is not None and writer.last.ok

    def broken() -> tuple[list[tuple[bytes, bytes]], int]:
        raise ValueError("cannot encode")  # e.g. a state the codec refuses

    writer.start("w1", "b", broken)
    result = writer.wait()
    assert result is not None and not result.ok and "cannot encode" in (result.error or "")
    cp = _shelf(settings).pick("w1")
    assert cp is not None and cp.data == good
    # the writer is free again: the next checkpoint goes through
    assert writer.start("w1", "b", _encoder(b"n" * 10, "b"))
    assert writer.wait() is not None and writer.last is not None and writer.last.ok

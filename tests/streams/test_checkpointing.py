"""When checkpoints and item snapshots are taken (no broker: the writer is not started)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from streams.worker.checkpointing import CheckpointSchedule, ItemSnapshots
from tests.streams.counting_model import CountingModel


def test_checkpoints_are_spaced_by_the_interval_and_their_cost() -> None:
    off = CheckpointSchedule("t.item-state", every_s=0)
    assert not off.enabled and not off.due(force=True)
    s = CheckpointSchedule("t.item-state", every_s=3600)
    assert s.due(force=False), "the first one follows the first batch"
    assert not s.due(force=False)
    assert s.due(force=True)
    s = CheckpointSchedule("t.item-state", every_s=0.001)
    s._cost_s = 1000.0  # a snapshot that took long: at most 1/20 of the loop's time
    s.due(force=True)
    assert not s.due(force=False)


def test_without_a_writer_nothing_is_taken() -> None:
    s = CheckpointSchedule("t.item-state", every_s=1)
    s.take(CountingModel(), {0: 1}, [], force=True)  # not opened: no writer, no error
    assert not s.busy


class _Items(CountingModel):
    def item_state_many(self, items: Sequence[str]) -> list[dict[str, Any] | None]:
        return [{"n": self._pop[i]} if i in self._pop else None for i in items]

    def load_item_state(self, item: str, state: Mapping[str, Any]) -> None:
        self._pop[item] = state["n"]


def test_item_snapshots_send_changed_known_items_when_due() -> None:
    model = _Items()
    model._pop.update({"a": 2, "b": 1})
    sent: list[tuple[str, bytes, bytes]] = []

    def send(topic: str, key: bytes, value: bytes) -> None:
        sent.append((topic, key, value))

    snaps = ItemSnapshots("t.item-state", enabled=True, every_s=3600)
    snaps.touched(["b", "a", "zz"])
    snaps.send(model, send, force=False)
    assert sent == [] and snaps.pending  # not due yet
    snaps.send(model, send, force=True)
    assert [(t, k) for t, k, _ in sent] == [("t.item-state", b"a"), ("t.item-state", b"b")]
    assert not snaps.pending
    off = ItemSnapshots("t.item-state", enabled=False, every_s=0)
    off.touched(["a"])
    assert not off.pending

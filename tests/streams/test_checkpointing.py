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


def _restored(records: list[tuple[bytes, bytes | None]], name: str) -> dict[str, Any]:
    from homerec.models.deltas import apply_delta
    from homerec.state_io import unpackb
    from streams.checkpoint import Shelf

    shelf = Shelf()
    for key, value in records:
        shelf.add(key, value)
    cp = shelf.pick(name)
    assert cp is not None
    state = unpackb(cp.data)["state"]
    for delta in cp.deltas:
        state = apply_delta(state, unpackb(delta)["state"])
    return state


def test_incremental_checkpoints_restore_the_state_and_compact() -> None:
    """Base, deltas, a compaction on the writer thread, a deletion: each time, what a
    restore reads back (base + deltas merged) is the model's state_dict, and the deltas
    of a replaced base are tombstoned."""
    import numpy as np

    from homerec.events import Event
    from homerec.models import make_model
    from homerec.state_io import packb
    from streams.bench.checkpoints import MemoryProducer

    model = make_model("hybrid", n_factors=4, tag_dims=4)
    producer = MemoryProducer(keep=True)
    s = CheckpointSchedule(
        "t.item-state", every_s=1, instance_id="w1", max_deltas=2, compact_ratio=100.0
    )
    s.open(producer)
    rng = np.random.default_rng(3)
    kinds = []
    for r in range(6):
        model.learn_many(
            [Event(f"u{rng.integers(0, 40)}", f"i{rng.integers(0, 20)}", "click", 100 * r + k)
             for k in range(30)] + [Event(f"x{r}", "i0", "click", 100 * r + 50)]
        )  # fmt: skip
        if r == 4:
            model.forget_users(["x1", "x2"])
            s.soon()
        s.take(model, {0: r + 1}, [f"e{r}"], force=True)
        kinds.append(s.kind)
        last = s.last
        assert last is not None and last.ok
        state = _restored(producer.records, "w1")
        full = model.state_dict()
        assert set(state) == set(full)
        assert all(packb(state[k]) == packb(full[k]) for k in full), r
    assert kinds == ["base", "delta", "delta", "compaction", "compaction", "delta"]
    # the deltas before each compaction were tombstoned after its manifest
    live: dict[bytes, bytes | None] = dict(producer.records)
    delta_keys = [k for k, v in live.items() if b"\x00d" in k[6:] and v is not None]
    assert len(delta_keys) == 1  # the last delta's chunk only
    # no live delta names an erased user (msgpack of the string "x1")
    assert not any(b"\xa2x1" in (v or b"") for k, v in live.items() if b"\x00d" in k[6:])

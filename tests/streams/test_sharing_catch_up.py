"""Which catch-up a restarting member takes (``ItemSharing.choose_replay``), without a broker.

The replay path (deltas left out, the events learned again: the state an uninterrupted
worker holds) is for deltas this member's predecessor learned from events the replay
covers, and for the predecessor's idle takes (no events: what float16 left out of its
earlier deltas); anything else makes the group's order count: every delta applied,
users from the changelog.
"""

from __future__ import annotations

import pytest

from homerec.models.hybrid import Hybrid
from homerec.sharing import ItemDelta
from streams.checkpoint import Checkpoint
from streams.codec import ItemUpdate
from streams.config import Settings
from streams.worker.sharing import ItemSharing


def _update(source: str, seq: int, events: dict[int, tuple[int, int]]) -> ItemUpdate:
    return ItemUpdate(ItemDelta.empty(source, seq, n_factors=4), events)


def _choose(
    pending: list[ItemUpdate], monkeypatch: pytest.MonkeyPatch
) -> dict[int, tuple[int, int]]:
    model = Hybrid(n_factors=4, tag_dims=4)
    sharing = ItemSharing(Settings(), "t.item-updates", instance="w0", enabled=True)
    checkpoint = Checkpoint(
        "w0", b"", {0: 100}, [], 0, shared={"offsets": {0: 7}, "member": "w0.old", "seq": 3}
    )
    sharing.reset(model, checkpoint)
    monkeypatch.setattr(sharing, "_read_pending", lambda: pending)
    return sharing.choose_replay(model, {0: (100, 300)})


def test_the_predecessors_deltas_and_idle_takes_are_left_to_the_replay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pending = [_update("w0.old", 4, {0: (100, 199)}), _update("w0.old", 5, {0: (200, 349)}),
               _update("w0.old", 6, {})]  # fmt: skip
    # the replay reaches the last event a left-out delta learned (beyond the commit)
    assert _choose(pending, monkeypatch) == {0: (100, 350)}


def test_another_members_idle_take_makes_every_delta_apply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pending = [_update("w0.old", 4, {0: (100, 199)}), _update("w1.x", 1, {})]
    assert _choose(pending, monkeypatch) == {}


def test_deltas_of_events_before_the_checkpoint_make_every_delta_apply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _choose([_update("w0.old", 4, {0: (50, 120)})], monkeypatch) == {}

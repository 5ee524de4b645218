"""The item-update record: msgpack round trip and validation."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest

from homerec.events import Event
from homerec.models import make_model
from homerec.sharing import InvalidDelta, ItemDelta, ItemShared


def _delta() -> ItemDelta:
    model = make_model("hybrid", n_factors=4)
    assert isinstance(model, ItemShared)
    model.share_items("m0")
    model.learn_many(
        Event(f"u{n % 3}", f"i{n % 5}", "rating", 1_700_000_000_000 + n, 4.0 + n % 2)
        for n in range(30)
    )
    return model.take_item_delta()


def test_round_trip_through_msgpack() -> None:
    d = _delta()
    assert d.events == 30 and len(d.items) == 5 and not d.is_empty()
    assert d.ranker_steps > 0 and len(d.ranker_v) == len(d.ranker) and d.ranker_v.any()
    back = ItemDelta.from_dict(msgpack.unpackb(msgpack.packb(d.to_dict())))
    assert (back.source, back.seq, back.events, back.items, back.groups, back.ranker_steps) == (
        d.source, d.seq, d.events, d.items, d.groups, d.ranker_steps,
    )  # fmt: skip
    for name in ("counts", "q_idx", "q", "b", "pop_idx", "pop", "pop_slow", "cooc_src",
                 "cooc_dst", "cooc_w", "demo_g", "demo_i", "demo_n", "ranker", "rating_idx",
                 "ratings", "rating_sum", "recent", "ranker_v"):  # fmt: skip
        np.testing.assert_array_equal(getattr(back, name), getattr(d, name), err_msg=name)


def test_record_of_an_older_writer_has_no_ranker_moments() -> None:
    raw = _delta().to_dict()
    del raw["ranker_v"], raw["ranker_steps"]
    back = ItemDelta.from_dict(raw)
    assert back.ranker_steps == 0 and len(back.ranker_v) == 0 and back.ranker.any()


def test_empty_delta() -> None:
    d = ItemDelta.empty("m1", 3, n_factors=2)
    assert d.is_empty()
    assert ItemDelta.from_dict(d.to_dict()).seq == 3


@pytest.mark.parametrize(
    "change",
    [
        {"v": 99},
        {"idx": "<u8"},
        {"counts": b"\x00\x00"},  # not a float32 array
        {"counts": b""},  # fewer counts than items
        {"cooc_src": np.array([9], "<u2").tobytes()},  # lengths differ
        {"ranker_v": np.zeros(1, "<f4").tobytes()},  # not one per ranker weight
        {"ranker_steps": -1},
    ],
)
def test_malformed_records_are_rejected(change: dict[str, object]) -> None:
    raw = {**_delta().to_dict(), **change}
    with pytest.raises(InvalidDelta):
        ItemDelta.from_dict(raw)


def test_out_of_range_index_is_rejected() -> None:
    raw = _delta().to_dict()
    n = len(raw["q"]) // (2 * raw["n_factors"])
    raw["q_idx"] = np.full(n, 200, "<u2").tobytes()
    with pytest.raises(InvalidDelta, match="outside"):
        ItemDelta.from_dict(raw)

from __future__ import annotations

import msgpack
import numpy as np
import pytest

from homerec.errors import StateError
from homerec.state_io import dumps_state, loads_state, packb, unpackb


def test_arrays_round_trip_with_dtype_and_shape() -> None:
    value = {"a": np.arange(6, dtype=np.int32).reshape(2, 3), "b": np.float32(1.5), "c": (1, "x")}
    back = unpackb(packb(value))
    assert back["a"].dtype == np.int32 and back["a"].shape == (2, 3)
    assert np.array_equal(back["a"], value["a"])
    assert back["b"] == 1.5 and back["c"] == [1, "x"]


def test_rejects_foreign_bytes() -> None:
    with pytest.raises(StateError):
        loads_state(msgpack.packb({"format": 99}))
    with pytest.raises(StateError):
        packb({"x": object()})


def test_no_pickle_in_state() -> None:
    from homerec.events import Event
    from homerec.models import make_model

    m = make_model("hybrid", n_factors=4)
    m.learn_one(Event("u", "i", "click", 10**12))
    raw = dumps_state(m)
    assert b"\x80\x04" not in raw[:2]  # not a pickle stream
    assert loads_state(raw).n_events("u") == 1

from __future__ import annotations

import numpy as np

from homerec.events import Event
from homerec.items import Item
from homerec.models import make_model
from homerec.models.storage import IdIndex, as_rows, pack_lists, unpack_lists

T0 = 1_700_000_000_000


def test_popularity_ranks_by_count_and_hides_inactive() -> None:
    m = make_model("popularity", candidates="catalog")
    m.update_item(Item("new", "", ()))
    m.learn_many(
        [Event("a", "x", "click", T0), Event("b", "x", "view", T0), Event("c", "y", "skip", T0)]
    )
    assert [i for i, _ in m.recommend("z", 3)] == ["x", "y", "new"]
    m.update_item(Item("x", "", (), active=False))
    assert [i for i, _ in m.recommend("z", 3)] == ["y", "new"]


def test_itemknn_uses_recent_history() -> None:
    m = make_model("itemknn", history_length=1)
    m.learn_many(
        [
            Event("a", "x", "click", T0),
            Event("a", "y", "click", T0),
            Event("b", "z", "click", T0),
            Event("b", "w", "click", T0),
            Event("c", "z", "click", T0),
        ]
    )
    assert m.recommend("c", 1)[0][0] == "w"


def test_river_mf_predicts_ratings() -> None:
    m = make_model("river-biasedmf", n_factors=2)
    for _ in range(30):
        m.learn_many([Event("a", "x", "rating", T0, 5.0), Event("a", "y", "rating", T0, 1.0)])
    assert m.predict_one("a", "x") > m.predict_one("a", "y")  # type: ignore[operator]


def test_storage_helpers() -> None:
    idx = IdIndex(["a", "b"])
    assert idx.get("b") == 1 and idx.id(0) == "a" and "c" not in idx
    off, dat = pack_lists([bytearray(np.array([1, 2], "<i4").tobytes()), bytearray()])
    back = unpack_lists(off, dat)
    assert as_rows(back[0]).tolist() == [1, 2] and back[1] == bytearray()


def test_unknown_model() -> None:
    import pytest

    from homerec.errors import ConfigError

    with pytest.raises(ConfigError):
        make_model("nope")


def test_every_model_counts_its_users_and_items() -> None:
    # the worker's homerec_state_users / homerec_state_items gauges read these
    for name in ("popularity", "itemknn", "river-biasedmf", "hybrid"):
        m = make_model(name)
        m.update_item(Item("x", "X"))
        m.learn_many([Event("u1", "a", "click", 1), Event("u2", "a", "click", 2)])
        assert (m.n_users, m.n_items) == (2, 2), name  # type: ignore[attr-defined]


def test_state_dict_follows_catalog_tag_changes() -> None:
    # the items' packed tags are cached between snapshots: a catalog change must show in
    # the next one and leave the earlier snapshot as it was
    m = make_model("popularity")
    m.update_item(Item("a", tags=("x",)))
    first = m.state_dict()
    kept = bytes(first["item_tags"])
    assert m.state_dict()["item_tags"] is first["item_tags"]  # unchanged catalog: reused
    m.update_item(Item("a", tags=("x", "y")))  # same items, new tags
    second = m.state_dict()
    assert bytes(second["item_tags"]) != kept and bytes(first["item_tags"]) == kept
    twin = make_model("popularity")
    twin.load_state_dict(second)
    assert twin._item_tags == m._item_tags  # type: ignore[attr-defined]

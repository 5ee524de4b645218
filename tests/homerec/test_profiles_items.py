"""Profiles on the wire and their groups; the items' author field."""

from __future__ import annotations

import msgpack
import pytest

from homerec.errors import ConfigError, InvalidEvent, InvalidItem
from homerec.items import Item
from homerec.models import make_model
from homerec.profiles import MAX_ATTRS, ProfileSchema, UserProfile
from streams.codec import decode_item, decode_profile, encode_item, encode_profile


def test_profile_round_trip_and_groups() -> None:
    feats = {"age": 34.0, "gender": "F", "location": "DE", "plan": "pro"}
    p = UserProfile("u1", feats, 1_700_000_000_000)
    key, value = encode_profile(p)
    assert key == b"u1" and decode_profile(key, value) == p
    assert msgpack.unpackb(value)["attrs"] == {"plan": "pro"}
    assert ProfileSchema().groups(p) == {
        "age": "30",
        "gender": "F",
        "location": "DE",
        "plan": "pro",
    }
    assert ProfileSchema(fields=("location",), attrs=False).groups(p) == {"location": "DE"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ([1], "not_a_map"),
        ({"age": 3}, "missing_field"),
        ({"user": "u", "zip": "1"}, "unknown_field"),
        ({"user": "u", "age": "old"}, "wrong_type"),
        ({"user": "u", "age": 200}, "out_of_range"),
        ({"user": "u", "age": float("nan")}, "not_finite"),
        ({"user": "u", "gender": 1}, "wrong_type"),
        ({"user": "u", "attrs": {f"k{n}": "v" for n in range(MAX_ATTRS + 1)}}, "oversize"),
        ({"user": "u", "attrs": {"age": "v"}}, "bad_value"),
        ({"user": "u", "attrs": []}, "wrong_type"),
    ],
)
def test_bad_profiles_have_a_reason(raw: object, reason: str) -> None:
    with pytest.raises(InvalidEvent) as err:
        decode_profile(b"u", msgpack.packb(raw))
    assert err.value.reason == reason


def test_profile_key_must_be_the_user() -> None:
    with pytest.raises(InvalidEvent, match="key_mismatch"):
        decode_profile(b"other", msgpack.packb({"user": "u"}))
    with pytest.raises(InvalidEvent, match="empty"):
        decode_profile(b"u", None)


def test_schema_checks() -> None:
    with pytest.raises(ConfigError):
        ProfileSchema(fields=("zip",))
    with pytest.raises(ConfigError):
        ProfileSchema(age_edges=(30, 20))


def test_item_author_round_trip() -> None:
    item = Item("i1", "T", ("a",), True, 1_700_000_000_000, "Ann")
    assert decode_item(*encode_item(item)) == item
    assert "author" not in Item("i2").to_dict()  # absent when empty: old records unchanged
    with pytest.raises(InvalidItem, match="wrong_type"):
        Item.from_dict({"item": "i", "author": 3})


def test_an_author_is_a_content_feature_outside_the_tag_cap() -> None:
    from homerec.items import Item
    from homerec.models.hybrid.model import AUTHOR_PREFIX

    model = make_model("hybrid", n_factors=4)
    model.update_item(Item("x1", "x1", ("t",), author="Ann"))
    model.update_item(Item("x2", "x2", ("u",), author="Ann"))
    model.update_item(Item("x3", "x3", ("u",)))
    T = model.tables.items.T  # type: ignore[attr-defined]
    rows = [model._items.get(i) for i in ("x1", "x2", "x3")]  # type: ignore[attr-defined]
    # x1 and x2 share only their author; x2 and x3 share a tag
    assert float(T[rows[0]] @ T[rows[1]]) > 0.0
    assert float(T[rows[0]] @ T[rows[2]]) == 0.0
    tags = model._tags  # type: ignore[attr-defined]
    assert AUTHOR_PREFIX + "Ann" in tags
    author = tags.get(AUTHOR_PREFIX + "Ann")
    assert all(author not in t for t in model._item_tags)  # type: ignore[attr-defined]

"""The msgpack codec: round trips and the reasons it gives for bad bytes."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from homerec.errors import InvalidEvent, InvalidItem
from homerec.events import Event
from homerec.homepage import Homepage
from homerec.items import Item
from homerec.limits import Limits
from streams.codec import (
    decode_dead_letter,
    decode_event,
    decode_homepage,
    decode_item,
    encode_dead_letter,
    encode_event,
    encode_homepage,
    encode_item,
)

TS = 1_700_000_000_000


@given(
    user=st.text(min_size=1, max_size=40),
    item=st.text(min_size=1, max_size=40),
    value=st.floats(1, 5),
)
def test_event_round_trip(user: str, item: str, value: float) -> None:
    event = Event(user, item, "rating", TS, value, id="x")
    assert decode_event(*encode_event(event)) == event


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_but_invalid_event(data: bytes) -> None:
    try:
        decode_event(b"u", data)
    except InvalidEvent as exc:
        assert exc.reason in {
            "not_msgpack",
            "not_a_map",
            "missing_field",
            "unknown_field",
            "wrong_type",
            "bad_value",
            "unknown_type",
            "out_of_range",
            "not_finite",
            "oversize",
            "key_mismatch",
        }


def test_reasons() -> None:
    cases = [
        (b"u1", None, "empty"),
        (b"u1", b"\xc1", "not_msgpack"),
        (b"u1", b"\x92\x01", "not_msgpack"),  # truncated
        (
            b"u1",
            msgpack.packb({"user": "u1", "item": "i", "type": "view", "ts": TS}) + b"x",
            "not_msgpack",
        ),
        (
            None,
            msgpack.packb({"user": "u1", "item": "i", "type": "view", "ts": TS}),
            "key_mismatch",
        ),
        (b"u1", b"\xa2\xff\xfe", "not_msgpack"),  # invalid UTF-8 string
    ]
    for key, value, reason in cases:
        with pytest.raises(InvalidEvent) as info:
            decode_event(key, value)
        assert info.value.reason == reason, (key, value)
    big = msgpack.packb(
        {"user": "u1", "item": "i", "type": "view", "ts": TS, "context": {"a": "b" * 100}}
    )
    with pytest.raises(InvalidEvent, match="oversize"):
        decode_event(b"u1", big, Limits(max_message_bytes=64))


def test_items_and_homepages_and_dead_letters() -> None:
    item = Item("m1", "Title", ("a",), True, TS)
    assert decode_item(*encode_item(item)) == item
    with pytest.raises(InvalidItem):
        decode_item(b"m2", encode_item(item)[1])
    page = Homepage("u1", (("m1", 0.5),), TS + 5, TS, 3)
    key, value = encode_homepage(page)
    assert key == b"u1" and decode_homepage(value) == page
    err = InvalidEvent("not_msgpack", "bad")
    k, v, headers = encode_dead_letter(
        err, topic="t", partition=2, offset=9, key=b"u", value=b"\xc1"
    )
    letter = decode_dead_letter(v)
    assert (letter.reason, letter.partition, letter.offset, letter.key, letter.value) == (
        "not_msgpack",
        2,
        9,
        b"u",
        b"\xc1",
    )
    assert dict(headers)["homerec.reason"] == b"not_msgpack"


@pytest.mark.parametrize(
    "value",
    [
        b'{"user": "u1", "item": "i1", "type": "click", "ts": 1700000000000}',
        b'  \n{"user": "u1"}',
        b'[{"user": "u1"}]',
    ],
)
def test_json_values_are_named_as_json(value: bytes) -> None:
    with pytest.raises(InvalidEvent) as info:
        decode_event(b"u1", value)
    assert info.value.reason == "not_msgpack"
    assert "looks like JSON" in info.value.detail and "msgpack" in info.value.detail


def test_other_bad_bytes_are_not_called_json() -> None:
    with pytest.raises(InvalidEvent) as info:
        decode_event(b"u1", b"\x92\x01")
    assert info.value.reason == "not_msgpack" and "JSON" not in info.value.detail

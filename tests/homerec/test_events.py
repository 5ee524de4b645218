"""Validation of events and catalog records (property-based where it pays)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from homerec.errors import ConfigError, InvalidEvent, InvalidItem
from homerec.events import Event
from homerec.feedback import FeedbackWeights
from homerec.items import Item
from homerec.limits import Limits

TS = 1_700_000_000_000
BASE = {"user": "u1", "item": "i1", "type": "click", "ts": TS}

ids = st.text(min_size=1, max_size=60)
events = st.builds(
    Event,
    user=ids,
    item=ids,
    type=st.sampled_from(["view", "click", "share", "skip"]),
    ts=st.integers(Limits().ts_min, Limits().ts_max),
    value=st.none() | st.floats(-1e6, 1e6, allow_nan=False),
    id=st.none() | ids,
)


@given(events)
def test_round_trip(event: Event) -> None:
    assert Event.from_dict(event.to_dict()) == event


@given(st.floats(1.0, 5.0))
def test_ratings_in_range_are_valid(v: float) -> None:
    assert Event.from_dict({**BASE, "type": "rating", "value": v}).value == v


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        ({"user": None}, "wrong_type"),
        ({"user": ""}, "bad_value"),
        ({"user": "x" * 257}, "oversize"),
        ({"item": 3}, "wrong_type"),
        ({"type": "like"}, "unknown_type"),
        ({"type": 1}, "wrong_type"),
        ({"ts": "yesterday"}, "wrong_type"),
        ({"ts": True}, "wrong_type"),
        ({"ts": 12}, "out_of_range"),
        ({"ts": 1.7e12}, "wrong_type"),
        ({"type": "rating"}, "missing_field"),
        ({"type": "rating", "value": 0.5}, "out_of_range"),
        ({"type": "rating", "value": math.nan}, "not_finite"),
        ({"value": -math.inf}, "not_finite"),
        ({"value": 1e9}, "out_of_range"),
        ({"value": "5"}, "wrong_type"),
        ({"context": [1]}, "wrong_type"),
        ({"context": {str(i): i for i in range(65)}}, "oversize"),
        ({"colour": "red"}, "unknown_field"),
    ],
)
def test_invalid_events_name_their_reason(patch: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        Event.from_dict({**BASE, **patch})
    assert info.value.reason == reason
    assert info.value.detail


@pytest.mark.parametrize("missing", ["user", "item", "type", "ts"])
def test_missing_fields(missing: str) -> None:
    raw = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(InvalidEvent, match=missing) as info:
        Event.from_dict(raw)
    assert info.value.reason == "missing_field"


def test_limits_are_configurable() -> None:
    lim = Limits(max_id_length=4, rating_min=0, rating_max=10)
    assert Event.from_dict({**BASE, "type": "rating", "value": 9.0}, lim).value == 9.0
    with pytest.raises(InvalidEvent, match="oversize"):
        Event.from_dict({**BASE, "user": "abcde"}, lim)
    with pytest.raises(ConfigError):
        Limits(max_id_length=0)


def test_items() -> None:
    item = Item.from_dict({"item": "m1", "title": "T", "tags": ["a", "b"], "active": False})
    assert item == Item("m1", "T", ("a", "b"), False, 0)
    assert Item.from_dict(item.to_dict()) == item
    for raw, reason in [
        ({"title": "x"}, "missing_field"),
        ({"item": "m", "tags": "drama"}, "wrong_type"),
        ({"item": "m", "active": "yes"}, "wrong_type"),
        ({"item": "m", "tags": ["t"] * 65}, "oversize"),
        ([], "not_a_map"),
    ]:
        with pytest.raises(InvalidItem) as info:
            Item.from_dict(raw)
        assert info.value.reason == reason


def test_feedback_weights() -> None:
    fw = FeedbackWeights.parse("share=3,skip=-1")
    assert fw.weight(Event("u", "i", "share", TS)) == 3.0
    assert fw.weight(Event("u", "i", "skip", TS)) == -1.0
    assert fw.weight(Event("u", "i", "rating", TS, 1.0)) == -1.0
    assert fw.weight(Event("u", "i", "rating", TS, 4.0)) == 0.5
    assert not fw.is_positive(Event("u", "i", "rating", TS, 3.0))
    assert fw.is_positive(Event("u", "i", "click", TS))
    assert not fw.is_positive(Event("u", "i", "view", TS))
    with pytest.raises(ConfigError):
        FeedbackWeights.parse("like=2")
    with pytest.raises(ConfigError):
        FeedbackWeights.parse("click=lots")

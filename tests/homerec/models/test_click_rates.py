"""Exposure and clicks on pages: the counts, their lift, what counts as a click, state."""

from __future__ import annotations

import numpy as np

from homerec.events import Event
from homerec.items import Item
from homerec.models.click_rates import ClickRates, rate_lift
from homerec.models.popularity import Popularity
from homerec.state_io import packb, unpackb

T0 = 1_700_000_000_000


def test_lift_is_zero_without_clicks_and_orders_by_rate() -> None:
    rates = ClickRates.empty()
    rates.grow(4)
    assert not rates.lift(4, prior=2.0).any()  # nothing shown
    rates.add_shown(np.arange(4), np.array([10.0, 10.0, 10.0, 0.0]))
    assert not rates.lift(4, prior=2.0).any()  # shown, nothing clicked: no rate yet
    for i, clicks in ((0, 5), (1, 1)):
        for _ in range(clicks):
            rates.add_click(i)
    lift = rates.lift(4, prior=2.0)
    assert lift[0] > 0 > lift[1] > lift[2] and lift[3] == 0.0  # never shown: the prior
    assert rates.rate == 6 / 30


def test_lift_shrinks_towards_zero_with_a_stronger_prior() -> None:
    c, e = np.array([3.0]), np.array([5.0])
    assert 0 < rate_lift(c, e, 0.2, 20.0)[0] < rate_lift(c, e, 0.2, 1.0)[0]


def test_state_round_trip_and_restored_rows_keep_the_totals() -> None:
    rates = ClickRates.empty()
    rates.grow(3)
    rates.add_shown(np.array([0, 2]), np.array([1.0, 0.5]))
    rates.add_click(2)
    back = ClickRates.from_state(unpackb(packb(rates.state(3))), 3)
    assert np.array_equal(back.shown, rates.shown[:3]) and back.total_clicks == 1.0
    back.set_row(2, 4.0, 2.0)
    assert back.total_shown == 5.0 and back.total_clicks == 2.0
    assert ClickRates.from_state({}, 3).total_shown == 0.0  # states written before


def _shown_model() -> Popularity:
    m = Popularity(candidates="catalog", explore=0.5, seed=1)
    for j in range(6):
        m.update_item(Item(f"i{j}", f"t{j}", ("a",)))
    m.learn_one(Event("u", "i5", "view", T0))  # pages are kept for known users
    return m


def test_a_click_on_the_page_counts_once() -> None:
    m = _shown_model()
    (page,) = m.recommend_many(["u"], 3)
    shown = {i for i, _ in page}
    on, off = page[0][0], next(f"i{j}" for j in range(5) if f"i{j}" not in shown)
    assert m._rates.total_shown > 0
    m.learn_many([
        Event("u", on, "click", T0), Event("u", on, "share", T0),  # one click, then its share
        Event("u", off, "click", T0),  # not on the page: found elsewhere
        Event("u", page[1][0], "skip", T0),  # negative: no click
    ])  # fmt: skip
    clicks = dict(zip(m._items.ids, m._rates.clicks.tolist(), strict=False))
    assert clicks[on] == 1.0 and clicks[off] == 0.0 and m._rates.total_clicks == 1.0


def test_no_page_no_click() -> None:
    # exploration off (an offline replay): pages are not known to be shown
    m = Popularity(candidates="catalog")
    m.update_item(Item("i0", "t", ("a",)))
    m.recommend_many(["u"], 3)
    m.learn_one(Event("u", "i0", "click", T0))
    assert m._rates.total_clicks == 0.0


def test_clicks_survive_state_and_item_state() -> None:
    m = _shown_model()
    (page,) = m.recommend_many(["u"], 3)
    m.learn_one(Event("u", page[0][0], "click", T0))
    fresh = Popularity(candidates="catalog", explore=0.5, seed=1)
    fresh.load_state_dict(unpackb(packb(m.state_dict())))
    assert np.array_equal(fresh._rates.clicks, m._rates.clicks[: m.n_items])
    assert fresh._rates.total_clicks == 1.0
    (state,) = m.item_state_many([page[0][0]])
    assert state is not None and state["clicks"] == 1.0
    other = Popularity()
    other.load_item_state(page[0][0], unpackb(packb(state)))
    assert other._rates.total_clicks == 1.0 and other._rates.total_shown == state["shown"]

from __future__ import annotations

import numpy as np
import pytest

from homerec.simulation.metrics import Tally, censored_quantile, gini


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([5, 5, 5, 5], 0.0),
        ([0, 0, 0, 10], 0.75),  # one of n takes all: (n - 1) / n
        ([1, 2, 3, 4], 0.25),
        ([0, 0], 0.0),
        ([], 0.0),
    ],
)
def test_gini_of_known_inputs(values: list[int], expected: float) -> None:
    assert gini(values) == pytest.approx(expected)


def test_gini_ignores_order_and_scale() -> None:
    x = np.array([3, 0, 7, 1, 1])
    assert gini(x) == pytest.approx(gini(x[::-1] * 10))


def test_censored_quantile_counts_never_as_longest() -> None:
    assert censored_quantile([1, 2, 3, 4, 5], 0.5) == 3.0
    assert censored_quantile([1, None, 2, None, None], 0.5) is None
    assert censored_quantile([1, None, 2, 3, 4], 0.5) == 3.0
    assert censored_quantile([1, 2, 3, 4, None], 0.9) == 4.0
    assert censored_quantile([], 0.5) is None


def test_new_item_bookkeeping_on_a_hand_made_schedule() -> None:
    t = Tally(n_sessions=100, n_items_total=8, k=3)
    active = np.ones(8, bool)
    t.add_items(range(4), 0)  # the initial catalog
    t.add_items([4, 5], 10)
    t.record_pages([12], [[4, 0, 1]], [6], active)
    t.record_pages([20], [[4, 2]], [6], active)  # short: 2 < k while 6 remained
    t.add_items([6, 7], 50)
    t.record_pages([80], [[6]], [2], active)  # 1 item, but only 2 candidates: not short
    assert t.new_item_waits() == [2, None, 30, None]
    assert censored_quantile(t.new_item_waits(), 0.5) == 30.0
    assert t.short_pages == 1 and t.pages == 3
    assert t.item_impressions.tolist() == [1, 1, 1, 0, 2, 0, 1, 0]
    assert t.coverage() == pytest.approx(5 / 8)
    assert t.new_impressions[[12, 20, 80]].tolist() == [1, 1, 1]


def test_inactive_impressions_are_counted() -> None:
    t = Tally(n_sessions=10, n_items_total=4, k=2)
    t.add_items(range(4), 0)
    active = np.array([True, False, True, False])
    t.record_pages([0, 1], [[0, 1], [3, 2]], [4, 4], active)
    assert t.inactive_shown == 2


def test_windows_and_ctr() -> None:
    t = Tally(n_sessions=4, n_items_total=3, k=2)
    t.add_items(range(3), 0)
    active = np.ones(3, bool)
    t.record_pages([0, 1], [[0, 1], [0, 1]], [3, 3], active)
    t.record_clicks([0, 1], [1, 0])
    t.close_window(2)
    t.record_pages([2, 3], [[2, 1], [2, 0]], [3, 3], active)
    t.record_clicks([2, 3], [2, 2])
    t.close_window(4)
    assert [w.ctr for w in t.windows] == [0.25, 1.0]
    assert [w.coverage for w in t.windows] == pytest.approx([2 / 3, 1.0])
    assert t.ctr() == pytest.approx(5 / 8) and t.ctr(2) == 1.0

"""The one scoring implementation against the plain per-plane reference."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from homerec.checks import planted_stream
from homerec.events import Event
from homerec.items import Item
from homerec.models.hybrid import Hybrid, reference, scoring
from homerec.profiles import UserProfile
from tests.homerec.models.hybrid.fixtures import T0, Trained, with_click_rates


def _reference_scores(m: Hybrid, rows: npt.NDArray[np.int32]) -> npt.NDArray[np.float64]:
    scorer = m._scorer
    return reference.scores(
        m.tables, m._book(), rows, cold_scale=scorer.cold_scale, long_pows=scorer.long_pows,
        recent_pows=scorer.recent_pows, rate_prior=scorer.rate_prior,
    )  # fmt: skip


def _scores(m: Hybrid, rows: npt.NDArray[np.int32]) -> npt.NDArray[np.float32]:
    return m._scorer.scores(m.tables, m._book(), rows)


def test_block_scores_equal_single_user_scores(trained: Trained) -> None:
    m = trained()
    rows = np.array([0, 3, 5, -1], np.int32)
    block = _scores(m, rows)
    for r, u in enumerate(rows.tolist()):
        assert np.allclose(block[r], _scores(m, np.array([u], np.int32))[0], atol=1e-5)


@pytest.mark.parametrize("fused_from", [1, 10**9], ids=["one-product", "three-products"])
def test_scores_are_the_reference_scores(
    fused_from: int, trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cold, warm and unknown users, histories up to history_length (the compiled
    # co-occurrence terms), users in two profile groups
    monkeypatch.setattr(scoring, "FUSED_MIN_ROWS", fused_from)
    m = trained()
    m.learn_many([Event("u0", f"i{j}", "click", T0 + j) for j in range(40)])
    m.update_user(UserProfile("new", {"cluster": "1", "age": 31}))  # two profile groups
    m.learn_many([Event("new", "i3", "click", T0)])
    rows = np.array([0, 3, 5, -1, m._users.get("new")], np.int32)
    assert np.allclose(_scores(m, rows), _reference_scores(m, rows), atol=1e-4)
    assert m._scorer.scratch_is_clear  # the kernel's scratch is handed back zeroed


@pytest.mark.parametrize("fused_from", [1, 10**9], ids=["one-product", "three-products"])
def test_scores_stay_the_reference_scores_as_the_model_moves(
    fused_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the item side is updated in place between versions: after more events, a catalog
    # change and a restore it must still give the reference's scores, on both paths
    monkeypatch.setattr(scoring, "FUSED_MIN_ROWS", fused_from)
    events, items, profiles = planted_stream(n_items=60, n_events=1200)
    m = Hybrid(n_factors=8)
    for it in items:
        m.update_item(it)
    for p in profiles:
        m.update_user(p)
    rows = np.array([0, 3, 5, 9, -1], np.int32)

    def same() -> None:
        assert np.allclose(_scores(m, rows), _reference_scores(m, rows), atol=1e-4)

    for start in range(0, 900, 300):
        m.learn_many(events[start : start + 300])
        same()
    m.update_item(Item(items[0].item, "t", ("brand-new-tag", "other")))
    same()
    m.update_item(Item("added-later", "t", ("x",)))
    same()
    back = Hybrid(n_factors=8)
    back.load_state_dict(m.state_dict())
    m = back
    m.learn_many(events[900:])
    same()


def test_product_at_columns_is_the_full_product(trained: Trained) -> None:
    # the candidate stage's gathered product: the same numbers as the full re-rank's
    # before co-occurrence (users without history, so none is added)
    m = trained()
    m.update_user(UserProfile("fresh", {"cluster": "0", "age": 55}))
    rows = np.array([m._users.get("fresh"), -1], np.int32)
    book = m._book()
    full = m._scorer.scores(m.tables, book, rows)
    at = np.array([[0, 4, 9, 59], [1, 2, 3, 30]], np.int64)
    side = m._scorer.user_side(m.tables, book, rows)
    got = m._scorer.product_at(m.tables, side, at)
    assert np.allclose(got, np.take_along_axis(full, at, axis=1), atol=1e-5)


def test_item_side_is_cached_per_version(trained: Trained) -> None:
    m = trained()
    book = m._book()
    first = m._scorer.item_side(m.tables, book)
    assert m._scorer.item_side(m.tables, book) is first
    m.learn_many([Event("u1", "i3", "click", T0)])
    assert m._scorer.item_side(m.tables, m._book()) is not first


def test_unit_rows_leave_zero_rows_zero() -> None:
    x = np.array([[3.0, 4.0], [0.0, 0.0]], np.float32)
    assert scoring.unit_rows(x).tolist() == [[0.6000000238418579, 0.800000011920929], [0, 0]]


@pytest.mark.parametrize("fused_from", [1, 10**9], ids=["one-product", "three-products"])
def test_scores_with_click_rates_are_the_reference_scores(
    fused_from: int, trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the item_rate plane (zero without pages shown) enters the item scalars
    monkeypatch.setattr(scoring, "FUSED_MIN_ROWS", fused_from)
    m = trained()
    rows = np.array([0, 3, 5, -1], np.int32)
    before = _scores(m, rows)
    with_click_rates(m)
    after = _scores(m, rows)
    assert np.allclose(after, _reference_scores(m, rows), atol=1e-4)
    assert not np.allclose(after[:3], before[:3], atol=1e-3)

"""The per-event steps: the compiled ranker step against the reference features, the
ranker's columns, the sampled softmax, negative feedback, what an event updates."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from homerec.checks import planted_stream
from homerec.events import Event
from homerec.items import Item
from homerec.models.hybrid import Hybrid
from homerec.models.hybrid.learning import Eligible, Learner
from homerec.models.hybrid.planes import Plane
from homerec.models.storage import as_rows
from homerec.profiles import UserProfile
from tests.homerec.models.hybrid.fixtures import T0, Trained, with_click_rates


def _eligible(m: Hybrid) -> Eligible:
    return Eligible(
        m._item_seen, m._item_catalog, m._item_active, m.candidates == "catalog", m._user_items
    )


def _softmax_grad(m: Hybrid, u: int, cols: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """The ranker's gradient from the reference features: ``Σ_j p_j x_j - x_0``."""
    x = m.features(u, cols)
    s = m.tables.shared.ranker.scores(x)
    p = np.exp(s - s.max())
    p /= p.sum()
    p[0] -= 1.0
    grad: npt.NDArray[np.float64] = p @ x
    return grad


@pytest.mark.parametrize("u", [0, 3, 7])
def test_ranker_grad_at_columns_is_the_softmax_gradient_of_the_features(
    u: int, trained: Trained
) -> None:
    # the compiled step computes the features at its columns only (planes by the same
    # Plane rows as the reference): the same numbers
    m = trained()
    m.update_user(UserProfile("grouped", {"cluster": "1", "age": 31}))
    m.learn_many([Event("grouped", "i3", "click", T0), Event("grouped", "i8", "click", T0)])
    grouped = m._users.get("grouped")
    assert grouped is not None
    for row in (u, grouped):
        cols = np.array([7, 0, 17, 5, 42, 5, 59], np.int64)  # repeats count twice
        want = _softmax_grad(m, row, cols)
        assert np.abs(want).max() > 1e-3
        got = m._learner.ranker_grad(m.tables, m._book(), row, cols)
        assert np.allclose(got, want, rtol=1e-4, atol=1e-5)
        assert not m._learner.slot.any()  # the scratch is handed back zeroed


def test_ranker_grad_with_click_rates_is_the_softmax_gradient_of_the_features(
    trained: Trained,
) -> None:
    m = with_click_rates(trained())
    cols = np.array([7, 0, 17, 5, 42, 5, 59, 3, 6], np.int64)
    want = _softmax_grad(m, 3, cols)
    assert abs(want[Plane.ITEM_RATE]) > 1e-3
    got = m._learner.ranker_grad(m.tables, m._book(), 3, cols)
    assert np.allclose(got, want, rtol=1e-4, atol=1e-5)


def test_exact_ranker_columns_are_every_candidate_but_the_users_items(trained: Trained) -> None:
    m = trained()
    u, pos = 3, 7
    cols = m._learner.ranker_columns(m._book(), m._rng, _eligible(m), u, pos)
    valid = m.candidate_mask()
    valid[as_rows(m._user_items[u])] = False
    valid[pos] = False
    assert cols[0] == pos
    assert sorted(cols[1:].tolist()) == np.flatnonzero(valid).tolist()


def test_sampled_ranker_step_learns_like_the_full_one() -> None:
    events, items, _ = planted_stream(n_items=60, n_events=1200)

    def hit_rate(**kw: object) -> float:
        m = Hybrid(n_factors=8, **kw)  # type: ignore[arg-type]
        for it in items:
            m.update_item(it)
        m.learn_many(events[:900])
        hits = [e.item in {i for i, _ in m.recommend(e.user, 10)} for e in events[900:]]
        assert m.tables.shared.ranker.steps > 0
        return sum(hits) / len(hits)

    full, sampled = hit_rate(), hit_rate(ranker_sample=8)  # 60 items: sampled for real
    assert full > 0.2
    assert sampled > 0.8 * full


def test_push_down_lowers_the_pair_only() -> None:
    m = Hybrid(n_factors=4, seed=3)
    m.learn_many([Event("u", "a", "click", T0), Event("v", "b", "click", T0)])
    users, items = m.tables.users, m.tables.items
    other = float(users.P[1] @ items.Q[0] + items.b[0])
    before = float(users.P[0] @ items.Q[1] + items.b[1])
    m._learner.push_down(m.tables, 0, 1, 1.0)
    assert float(users.P[0] @ items.Q[1] + items.b[1]) < before
    assert float(users.P[1] @ items.Q[0] + items.b[0]) == other


def test_an_event_updates_history_cooccurrence_popularity_and_groups() -> None:
    m = Hybrid(n_factors=4)
    m.update_item(Item("a", tags=("x",)))
    m.update_user(UserProfile("u", {"cluster": "1"}))
    m.learn_many([Event("u", "a", "click", T0), Event("u", "b", "rating", T0, 4.0)])
    users, items, shared = m.tables.users, m.tables.items, m.tables.shared
    assert users.history(0, 10).tolist() == [1, 0]
    assert items.cooc.row(0) == {1: 1.0} and items.cooc.row(1) == {0: 1.0}
    assert items.pop.values(2).tolist() == pytest.approx([2 ** (-1 / 1000), 1.0])
    assert shared.buffer[:2].tolist() == [0, 1] and shared.n_positive == 2
    assert items.demo.D_tot[0] == 2.0
    assert users.ratings[0].tolist() == [4.0, 1.0] and shared.ratings.tolist() == [4.0, 1.0]


def test_below_history_min_weight_an_event_leaves_history_and_counts() -> None:
    m = Hybrid(n_factors=4, history_min_weight=0.5)
    m.learn_many([Event("u", "a", "skip", T0)])
    assert m.tables.users.history(0, 10).tolist() == []
    assert m.tables.shared.buf_n == 0


def test_a_click_on_a_page_steps_against_the_passed_over_items_and_the_candidates(
    trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = trained()
    page = np.array([11, 12, 13, 14, 15], np.intp)
    seen: list[npt.NDArray[np.int64]] = []
    real = Learner.ranker_grad

    def spy(
        self: Learner, tables: object, book: object, u: int, cols: npt.NDArray[np.int64]
    ) -> object:
        seen.append(cols.copy())
        return real(self, tables, book, u, cols)  # type: ignore[arg-type]

    monkeypatch.setattr(Learner, "ranker_grad", spy)
    eligible = Eligible(
        m._item_seen, m._item_catalog, m._item_active, False, m._user_items, page
    )  # fmt: skip
    m._learner.ranker_step(m.tables, m._book(), m._rng, eligible, 3, 13, 1.0)
    (cols,) = seen
    mine = set(as_rows(m._user_items[3]).tolist())
    assert cols[0] == 13
    # the page's items above the click and the one after it (minus the user's), then the
    # candidates the step takes without a page
    passed = [j for j in (11, 12, 14) if j not in mine]
    assert cols[1 : 1 + len(passed)].tolist() == passed
    assert len(cols) > 1 + len(passed) + 10


def test_items_passed_over_above_a_click_are_pushed_down(trained: Trained) -> None:
    def scores_after(page_negatives: float) -> npt.NDArray[np.float32]:
        m = trained(explore=0.3, candidates="catalog", page_negatives=page_negatives, seed=2)
        (page,) = m.recommend_many(["u3"], 6)
        items = [i for i, _ in page]
        m.learn_one(Event("u3", items[3], "click", T0))
        u = m._users.get("u3")
        rows = [m._items.get(i) for i in items[:3]]
        mf: npt.NDArray[np.float32] = (m.tables.items.Q[rows] @ m.tables.users.P[u]) + (
            m.tables.items.b[rows]
        )
        return mf

    assert (scores_after(1.0) < scores_after(0.0)).all()

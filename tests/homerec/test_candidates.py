from __future__ import annotations

import numpy as np
import pytest

from homerec.candidates import AnnCandidates
from homerec.errors import ConfigError


def _items(n: int = 200, d: int = 6) -> np.ndarray:
    return np.random.default_rng(1).normal(size=(n, d)).astype(np.float32)


def test_nothing_until_the_first_build_then_the_best_rows() -> None:
    items = _items()
    stage = AnnCandidates(10, rebuild_every=50, method="exact")
    q = items[:3] * 2.0
    assert stage.query(q) is None
    assert stage.refresh(0, lambda: items)
    stage.wait()
    rows = stage.query(q)
    assert rows is not None and rows.shape == (3, 10)
    expected = np.argsort(-(q @ items.T), axis=1)[:, :10]
    assert [sorted(r) for r in rows.tolist()] == [sorted(r) for r in expected.tolist()]


def test_rebuilds_only_when_the_index_is_old_enough() -> None:
    items = _items()
    stage = AnnCandidates(5, rebuild_every=100, method="exact")
    assert stage.refresh(0, lambda: items)
    stage.wait()
    assert not stage.refresh(99, lambda: items)  # 99 versions old: keep it
    assert stage.refresh(100, lambda: items + 1.0)
    stage.wait()
    assert stage.builds == 2


def test_a_width_change_falls_back_to_exact_scoring() -> None:
    stage = AnnCandidates(5, method="exact")
    stage.refresh(0, lambda: _items(d=6))
    stage.wait()
    assert stage.query(np.ones((1, 7), np.float32)) is None


def test_a_failed_build_keeps_the_previous_index() -> None:
    stage = AnnCandidates(5, rebuild_every=1, method="exact")
    stage.refresh(0, lambda: _items())
    stage.wait()
    stage.refresh(5, lambda: np.zeros((0, 0), np.float32))  # dim 0: CandidateIndex refuses
    stage.wait()
    assert stage.builds == 1 and stage.query(_items()[:1]) is not None


@pytest.mark.parametrize("bad", [{"n": 0}, {"n": 5, "rebuild_every": 0}])
def test_bad_settings_are_refused(bad: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        AnnCandidates(**bad)


def test_new_items_join_the_current_index_without_a_rebuild() -> None:
    items = _items(300)
    stage = AnnCandidates(5, rebuild_every=10**6, method="exact")
    stage.refresh(0, lambda: items[:200])
    stage.wait()
    assert stage.rows == 200
    assert stage.extend(300, lambda lo, hi: items[lo:hi]) == 100
    assert stage.rows == 300 and stage.builds == 1
    rows = stage.query(items[250:251] * 10.0)
    assert rows is not None and 250 in rows[0].tolist()  # a new item is proposed
    assert stage.extend(300, lambda lo, hi: items[lo:hi]) == 0


def test_a_new_item_beyond_the_norm_bound_waits_for_a_rebuild() -> None:
    pytest.importorskip("hnswlib")
    items = _items(200)
    stage = AnnCandidates(5, rebuild_every=10**6, method="hnsw")
    stage.refresh(0, lambda: items[:100])
    stage.wait()
    huge = items[100:101] * 100.0  # far above the built norm bound (x1.25 headroom)
    assert stage.extend(101, lambda lo, hi: huge) == 0 and stage.rows == 100
    assert stage.refresh(1, lambda: np.vstack([items[:100], huge]))  # rebuilt early
    stage.wait()
    assert stage.rows == 101 and stage.builds == 2

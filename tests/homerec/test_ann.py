"""The ANN candidate stage: recall against exact scoring, updates, edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from homerec.ann import (
    CandidateIndex,
    augment_items,
    augment_users,
    exact_top_n,
    hnswlib_available,
    recall_at_k,
)
from homerec.errors import ConfigError

needs_hnswlib = pytest.mark.skipif(not hnswlib_available(), reason="hnswlib not installed")


def _data(n_items: int = 2000, n_users: int = 100, dim: int = 16, seed: int = 3):
    rng = np.random.default_rng(seed)
    items = rng.normal(size=(n_items, dim)).astype(np.float32)
    users = rng.normal(size=(n_users, dim)).astype(np.float32)
    return items, users


def test_exact_method_matches_ground_truth() -> None:
    items, users = _data()
    rows, scores = CandidateIndex(16, method="exact").build(items).query(users, 20)
    truth = exact_top_n(users, items, 20)
    assert recall_at_k(rows, truth) == 1.0
    np.testing.assert_allclose(scores[:, 0], (users @ items.T).max(axis=1), rtol=1e-5)


@needs_hnswlib
def test_hnsw_recall_against_exact() -> None:
    items, users = _data()
    index = CandidateIndex(16, method="hnsw", ef_search=100, seed=1).build(items)
    rows, scores = index.query(users, 20)
    assert rows.shape == (100, 20)
    assert recall_at_k(rows, exact_top_n(users, items, 20)) >= 0.9
    # scores are inner products, best first
    np.testing.assert_allclose(
        scores, np.take_along_axis(users @ items.T, rows, axis=1), rtol=1e-4, atol=1e-4
    )
    assert (scores[:, :-1] >= scores[:, 1:] - 1e-5).all()


@needs_hnswlib
def test_hnsw_is_deterministic_under_a_seed() -> None:
    items, users = _data(n_items=500)
    a = CandidateIndex(16, method="hnsw", seed=5).build(items).query(users, 10)[0]
    b = CandidateIndex(16, method="hnsw", seed=5).build(items).query(users, 10)[0]
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("method", ["exact", pytest.param("hnsw", marks=needs_hnswlib)])
def test_upsert_moves_an_item(method: str) -> None:
    items, users = _data(n_items=300, n_users=1)
    index = CandidateIndex(16, method=method).build(items, ids=np.arange(300) + 1000)
    target = users[0] * 10.0
    index.upsert(target[None, :], [1007])
    rows, _ = index.query(users, 1)
    assert rows[0, 0] == 1007
    index.upsert(items[:1] * 0 + target, [5000])  # a new row
    assert len(index) == 301


@pytest.mark.parametrize("method", ["exact", pytest.param("hnsw", marks=needs_hnswlib)])
def test_fewer_items_than_asked(method: str) -> None:
    items, users = _data(n_items=3, n_users=2)
    rows, scores = CandidateIndex(16, method=method).build(items).query(users, 5)
    assert rows.shape == (2, 5)
    assert sorted(rows[0, :3].tolist()) == [0, 1, 2]
    assert (rows[:, 3:] == -1).all() and np.isneginf(scores[:, 3:]).all()


def test_empty_index_and_bad_shapes() -> None:
    index = CandidateIndex(4, method="exact")
    rows, _ = index.query(np.zeros((2, 4), np.float32), 3)
    assert (rows == -1).all()
    with pytest.raises(ConfigError):
        index.build(np.zeros((3, 5), np.float32))
    with pytest.raises(ConfigError):
        CandidateIndex(4, space="dot")  # type: ignore[arg-type]


def test_bias_by_augmentation() -> None:
    items, users = _data(n_items=400, n_users=30)
    bias = np.linspace(-1, 1, 400).astype(np.float32)
    index = CandidateIndex(17, method="exact").build(augment_items(items, bias))
    rows, _ = index.query(augment_users(users), 10)
    truth = np.argsort(-(users @ items.T + bias[None, :]), axis=1)[:, :10]
    assert recall_at_k(rows, truth) == 1.0


def test_recall_helper() -> None:
    assert recall_at_k([[1, 2]], [[2, 1]]) == 1.0
    assert recall_at_k([[1, -1]], [[1, 3]]) == 0.5


@needs_hnswlib
def test_mips_reduction_recall_and_rebuild_on_longer_vectors() -> None:
    items, users = _data(n_items=3000, n_users=100, seed=11)
    truth = exact_top_n(users, items, 50)
    reduced = CandidateIndex(16, method="hnsw", ef_search=64, seed=2).build(items)
    assert recall_at_k(reduced.query(users, 50)[0], truth) >= 0.9
    # replacing every item with a longer vector forces a rebuild with a larger norm bound
    reduced.upsert(items * 3.0, np.arange(3000))
    assert len(reduced) == 3000
    assert recall_at_k(reduced.query(users, 50)[0], truth) >= 0.9

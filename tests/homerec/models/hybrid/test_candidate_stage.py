"""The candidate stage: index proposals plus co-occurrence, scored as the full re-rank."""

from __future__ import annotations

import threading

import numpy as np
import numpy.typing as npt
import pytest

from homerec.candidates import AnnCandidates
from homerec.checks import planted_stream
from homerec.items import Item
from homerec.models.hybrid import Hybrid, candidate_stage
from tests.homerec.models.hybrid.fixtures import train


def _ann_model(n_items: int, n_events: int, **kw: object) -> tuple[Hybrid, list[str]]:
    """A hybrid as the worker builds it (WORKER_PARAMS, but no exploration: the tests
    compare exact lists), and its users plus an unknown one."""
    from homerec.models import WORKER_PARAMS

    m = train(n_items, n_events, **{**WORKER_PARAMS, "explore": 0.0}, **kw)
    return m, [f"u{u}" for u in range(40)] + ["nobody"]


def _stage(m: Hybrid) -> AnnCandidates:
    assert m._ann is not None
    return m._ann


def _exact_lists(m: Hybrid, users: list[str], k: int) -> list[list[tuple[str, float]]]:
    ann, m._ann = m._ann, None
    try:
        return m.recommend_many(users, k)
    finally:
        m._ann = ann


def _held_build(stage: AnnCandidates, monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Builds of ``stage`` wait for the returned event to be set (no race with them)."""
    go = threading.Event()
    build = stage._build

    def held(snapshot: npt.NDArray[np.float32], version: int) -> None:
        go.wait(60)
        build(snapshot, version)

    monkeypatch.setattr(stage, "_build", held)
    return go


@pytest.mark.parametrize("sparse_ratio", [0, 10**9], ids=["sparse-cooc", "dense-cooc"])
def test_ann_candidates_covering_the_catalog_give_the_exact_lists(
    sparse_ratio: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every item a candidate: the candidate path must score exactly as the full re-rank
    # (dense part from the gathered item rows, co-occurrence at the candidates, masks, cap)
    monkeypatch.setattr(candidate_stage, "SPARSE_RATIO", sparse_ratio)
    m, users = _ann_model(60, 800, ann_candidates=60)
    stage = _stage(m)
    go = _held_build(stage, monkeypatch)  # the first build may not finish during the call
    assert m.recommend_many(users, 5) == _exact_lists(m, users, 5)  # exact until built
    assert not stage.ready
    go.set()
    stage.wait()
    assert stage.ready
    got, want = m.recommend_many(users, 5), _exact_lists(m, users, 5)
    assert [[i for i, _ in x] for x in got] == [[i for i, _ in x] for x in want]
    for a, b in zip(got, want, strict=True):
        assert np.allclose([s for _, s in a], [s for _, s in b], atol=1e-4)


def test_ann_candidates_recall_the_exact_lists() -> None:
    m, users = _ann_model(400, 3000, ann_candidates=40)
    m.recommend_many(users, 10)
    _stage(m).wait()
    got, want = m.recommend_many(users, 10), _exact_lists(m, users, 10)
    hits = sum(len({i for i, _ in a} & {i for i, _ in b}) for a, b in zip(got, want, strict=True))
    assert hits / sum(len(b) for b in want) >= 0.9


def test_ann_index_is_rebuilt_in_the_background_as_the_model_learns() -> None:
    m, users = _ann_model(60, 400, ann_candidates=20, ann_rebuild_every=100)
    stage = _stage(m)
    m.recommend_many(users, 5)
    stage.wait()
    assert stage.builds == 1
    events, _, _ = planted_stream(n_items=60, n_events=150, seed=3)
    m.learn_many(events[:50])
    m.recommend_many(users, 5)  # 50 versions later: the index is kept
    stage.wait()
    assert stage.builds == 1
    m.learn_many(events[50:])
    m.recommend_many(users, 5)  # 150: rebuilt
    stage.wait()
    assert stage.builds == 2


def test_ann_index_takes_new_catalog_items_at_once() -> None:
    m, users = _ann_model(60, 400, ann_candidates=60, ann_rebuild_every=10**6)
    stage = _stage(m)
    m.recommend_many(users, 5)
    stage.wait()
    assert stage.rows == 60
    for j in range(5):  # known tags: the product keeps its width
        m.update_item(Item(f"new{j}", tags=(f"cluster{j % 2}",)))
    got = m.recommend_many(users, 5)
    assert stage.rows == 65 and stage.builds == 1  # inserted, not rebuilt
    want = _exact_lists(m, users, 5)
    assert [[i for i, _ in x] for x in got] == [[i for i, _ in x] for x in want]
    m.update_item(Item("other", tags=("a-new-tag",)))  # one more tag column
    assert m.recommend_many(users, 5) == _exact_lists(m, users, 5)  # exact meanwhile
    m.recommend_many(users, 5)  # the rebuild starts at once, not after 10**6 events
    stage.wait()
    assert stage.builds == 2 and stage.rows == 66


def test_sorted_unique_rows_pad_at_the_end() -> None:
    got = candidate_stage.sorted_unique_rows(
        np.array([[4, 0, 7], [7, 7, 7]]), [np.array([0, 2]), np.zeros(0, np.int64)], pad=7
    )
    assert got.tolist() == [[0, 2, 4], [7, 7, 7]]

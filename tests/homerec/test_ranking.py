from __future__ import annotations

import numpy as np

from homerec.ranking import tag_cap, top_k


def test_top_k_orders_and_drops_blocked() -> None:
    s = np.array([[0.5, -np.inf, 0.9, 0.5]], np.float32)
    (cols, vals), = top_k(s, 3)
    assert cols.tolist() == [2, 0, 3]
    assert vals.tolist() == [np.float32(0.9), np.float32(0.5), np.float32(0.5)]


def test_fewer_candidates_than_k() -> None:
    s = np.array([[-np.inf, 1.0]], np.float32)
    (cols, _), = top_k(s, 5)
    assert cols.tolist() == [1]


def test_tag_cap_limits_share() -> None:
    s = np.arange(10, dtype=np.float32)[None, ::-1].copy()  # col 0 best
    tags = [(0,)] * 8 + [(1,), (2,)]
    (cols, _), = top_k(s, 4, item_tags=tags, max_tag_share=0.5)
    assert cols.tolist() == [0, 1, 8, 9]
    assert tag_cap(10, 0.3) == 3

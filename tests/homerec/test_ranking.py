from __future__ import annotations

import numpy as np
import pytest

from homerec.ranking import tag_cap, tag_matrix, top_k


def test_top_k_orders_and_drops_blocked() -> None:
    s = np.array([[0.5, -np.inf, 0.9, 0.5]], np.float32)
    ((cols, vals),) = top_k(s, 3)
    assert cols.tolist() == [2, 0, 3]
    assert vals.tolist() == [np.float32(0.9), np.float32(0.5), np.float32(0.5)]


def test_fewer_candidates_than_k() -> None:
    s = np.array([[-np.inf, 1.0]], np.float32)
    ((cols, _),) = top_k(s, 5)
    assert cols.tolist() == [1]


def test_tag_cap_limits_share() -> None:
    s = np.arange(10, dtype=np.float32)[None, ::-1].copy()  # col 0 best
    tags = [(0,)] * 8 + [(1,), (2,)]
    ((cols, _),) = top_k(s, 4, item_tags=tags, max_tag_share=0.5)
    assert cols.tolist() == [0, 1, 8, 9]
    assert tag_cap(10, 0.3) == 3


def test_tag_cap_never_leaves_a_page_short() -> None:
    """A hand-made catalog: 60 items of tag 0 score best, then 5 of tag 1, then 3 untagged.
    The cap (5 per tag on a page of 10) skips every item of the overfetched head after the
    fifth: the page still fills, with the best of the items it skipped."""
    n = 68
    scores = np.arange(n, 0, -1, dtype=np.float32)[None, :].copy()  # column 0 best
    tags: list[tuple[int, ...]] = [(0,)] * 60 + [(1,)] * 5 + [()] * 3
    for dtype in (np.float32, np.float64):
        ((cols, vals),) = top_k(scores.astype(dtype), 10, item_tags=tags, max_tag_share=0.5)
        assert cols.tolist() == list(range(10))
        assert (np.diff(vals) < 0).all()
    # within the overfetched head, the cap keeps its share: tag 1 fills the other half
    tags = [(0,)] * 20 + [(1,)] * 45 + [()] * 3
    ((cols, _),) = top_k(scores, 10, item_tags=tags, max_tag_share=0.5)
    assert cols.tolist() == [0, 1, 2, 3, 4, 20, 21, 22, 23, 24]
    # one tag only: the cap gives way to the best left
    scores[0, 20:] = -np.inf
    ((cols, _),) = top_k(scores, 10, item_tags=tags, max_tag_share=0.5)
    assert cols.tolist() == list(range(10))
    # every candidate shown when there are fewer than k
    scores[0, 3:] = -np.inf
    ((cols, _),) = top_k(scores, 10, item_tags=tags, max_tag_share=0.5)
    assert cols.tolist() == [0, 1, 2]


def _reference(
    row: np.ndarray, k: int, tags: list[tuple[int, ...]] | None, cap: int | None
) -> list[int]:
    order = sorted((c for c in range(len(row)) if np.isfinite(row[c])), key=lambda c: (-row[c], c))
    if cap is None or tags is None:
        return order[:k]
    counts: dict[int, int] = {}
    chosen: list[int] = []
    for c in order:
        if any(counts.get(t, 0) >= cap for t in tags[c]):
            continue
        for t in tags[c]:
            counts[t] = counts.get(t, 0) + 1
        chosen.append(c)
        if len(chosen) == k:
            return chosen
    # the cap is soft: the best skipped items fill a page it would leave short
    fill = [c for c in order if c not in chosen][: k - len(chosen)]
    return sorted(chosen + fill, key=lambda c: (-row[c], c))


# float32: the compiled selection; float64: the numpy one
DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(5))
def test_top_k_matches_a_plain_sort(seed: int, dtype: type) -> None:
    """Block and single-row paths, blocked items and a tag cap against sorting by hand."""
    rng = np.random.default_rng(seed)
    n_rows, n_cols, k = 7, 300, 10
    scores = rng.permutation(n_rows * n_cols).reshape(n_rows, n_cols).astype(dtype)
    scores[rng.random((n_rows, n_cols)) < 0.2] = -np.inf
    scores[0, 5:] = -np.inf  # a row with fewer candidates than k
    tags = [
        tuple(int(t) for t in rng.choice(4, rng.integers(0, 3), replace=False))
        for _ in range(n_cols)
    ]
    for cap_share in (None, 0.3):
        got = top_k(scores, k, item_tags=tags, max_tag_share=cap_share, overfetch=3)
        # the rows within the cap found at once with a tag matrix (one item beyond it)
        fast = top_k(
            scores,
            k,
            item_tags=tags,
            max_tag_share=cap_share,
            overfetch=3,
            tags=tag_matrix(tags[:-1]),
        )
        single = [
            top_k(scores[r : r + 1], k, item_tags=tags, max_tag_share=cap_share, overfetch=3)[0]
            for r in range(n_rows)
        ]
        cap = tag_cap(k, cap_share)
        for r in range(n_rows):
            want = _reference(scores[r], k, tags, cap)
            assert got[r][0].tolist() == want
            assert fast[r][0].tolist() == want
            assert single[r][0].tolist() == want
            assert got[r][1].tolist() == scores[r, want].tolist()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_cols", [4_003, 10_000])
def test_wide_blocks_select_the_same_lists(n_cols: int, dtype: type) -> None:
    """The selections of wide blocks (numpy's: group maxima first) against a plain sort:
    distinct scores give the same columns; tied scores the same values (float32: the
    same columns too, the lower one first at the cut-off)."""
    rng = np.random.default_rng(n_cols)
    n_rows, k = 9, 10
    scores = rng.permutation(n_rows * n_cols).reshape(n_rows, n_cols).astype(dtype)
    scores[rng.random((n_rows, n_cols)) < 0.3] = -np.inf
    scores[1, :] = -np.inf
    scores[1, [3, n_cols - 1]] = [1.0, 2.0]  # fewer candidates than k, one in the tail
    scores[2, -5:] = 1e9  # the best all in the last columns
    for r in range(n_rows):
        assert [c for c in top_k(scores, k)[r][0].tolist()] == _reference(scores[r], k, None, None)
    tied = np.round(scores / (n_rows * n_cols), 2)  # many ties at the cut-off
    for r, (cols, vals) in enumerate(top_k(tied, k)):
        want = _reference(tied[r], k, None, None)
        assert vals.tolist() == tied[r, want].tolist()
        if dtype == np.float32:
            assert cols.tolist() == want


@pytest.mark.parametrize("dtype", DTYPES)
def test_candidate_columns_name_the_items(dtype: type) -> None:
    """Rows scoring their own candidates: the lists hold those items, under the tag cap
    too (rows over it ranked again with room to skip), as if every item were scored."""
    rng = np.random.default_rng(7)
    n_rows, n_items, n_cand, k = 8, 500, 60, 10
    tags = [
        tuple(int(t) for t in rng.choice(4, rng.integers(1, 3), replace=False))
        for _ in range(n_items)
    ]
    columns = np.stack([rng.choice(n_items, n_cand, replace=False) for _ in range(n_rows)])
    scores = rng.permutation(n_rows * n_cand).reshape(n_rows, n_cand).astype(dtype)
    for cap_share in (None, 0.3):
        # overfetch 6: room for every candidate, like the reference's
        got = top_k(
            scores, k, item_tags=tags, max_tag_share=cap_share, overfetch=6, columns=columns
        )
        cap = tag_cap(k, cap_share)
        over = 0
        for r in range(n_rows):
            full = np.full(n_items, -np.inf, dtype)
            full[columns[r]] = scores[r]
            want = _reference(full, k, tags, cap)
            assert got[r][0].tolist() == want
            assert got[r][1].tolist() == full[want].tolist()
            over += cap is not None and want != _reference(full, k, tags, None)
        assert cap is None or over > 0  # some rows needed the room to skip

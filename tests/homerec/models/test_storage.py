"""Row buffers of homerec.models.storage against plain Python lists."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from homerec.models.storage import append_row, as_rows, contains_row

INT32 = st.integers(-(2**31), 2**31 - 1)
# small values and byte-shifted ones make matches that straddle two rows likely
ROWS = st.one_of(st.integers(0, 300), st.sampled_from([256, 65536, 16777216, 1, -1]), INT32)


@given(st.lists(ROWS, max_size=40), ROWS)
def test_contains_row_is_list_membership(rows: list[int], row: int) -> None:
    buf = bytearray()
    for r in rows:
        append_row(buf, r)
    assert as_rows(buf).tolist() == rows
    assert contains_row(buf, row) is (row in rows)
    assert contains_row(bytes(buf), row) is (row in rows)


def test_a_match_across_two_rows_is_not_a_row() -> None:
    buf = bytearray()
    append_row(buf, 256)  # 00 01 00 00
    append_row(buf, 0)  # 00 00 00 00: bytes 1..4 read as 1
    assert not contains_row(buf, 1)
    assert contains_row(buf, 0) and contains_row(buf, 256)

"""The planes by name, and the compiled kernels reading the same rows."""

from __future__ import annotations

import importlib

from homerec.models.hybrid import PLANES, Plane
from homerec.models.hybrid.planes import N_PLANES, factor_weights, tag_weights


def test_planes_are_rows_in_order() -> None:
    assert [int(p) for p in Plane] == list(range(N_PLANES))
    assert PLANES[Plane.COOC_RECENT] == "cooc_recent" and len(PLANES) == N_PLANES
    assert factor_weights(3) == slice(N_PLANES, N_PLANES + 3)
    assert tag_weights(3).start == N_PLANES + 3


def test_the_kernel_source_reads_the_planes_from_the_enum() -> None:
    src = importlib.import_module("homerec._kernels_src")
    assert src._N_PLANES == N_PLANES
    assert {name: getattr(src, f"_{p.name}") for name, p in Plane.__members__.items()} == {
        name: int(p) for name, p in Plane.__members__.items()
    }

"""The compiled kernels against plain numpy forms of the same maths."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from homerec import kernels
from homerec.kernels import add_group_positive, bpr_step, cold_start_ranks, ranker_columns
from homerec.models.hybrid.cold_start import BETA_VALUES, ColdStartBlend


def _bpr_reference(
    P: np.ndarray, Q: np.ndarray, b: np.ndarray, u: int, i: int, negs: np.ndarray,
    lr: float, reg: float,
) -> None:  # fmt: skip
    p, qi, qj = P[u].copy(), Q[i].copy(), Q[negs].copy()
    diff = qi[None, :] - qj
    x = np.clip(diff @ p + (b[i] - b[negs]), -30, 30)
    g = 1.0 / (1.0 + np.exp(x)) / len(negs)
    P[u] = p + lr * (g @ diff - reg * p)
    Q[i] = qi + lr * (g.sum() * p - reg * qi)
    Q[negs] = qj - lr * (g[:, None] * p[None, :] + reg * qj)  # a repeated row: once
    b[i] += lr * (g.sum() - reg * b[i])
    b[negs] -= lr * g


def test_bpr_step_is_the_numpy_step_with_its_negatives() -> None:
    rng = np.random.default_rng(3)
    P = rng.normal(0, 0.3, (5, 6)).astype(np.float32)
    Q = rng.normal(0, 0.3, (20, 6)).astype(np.float32)
    b = rng.normal(0, 0.1, 20).astype(np.float32)
    buffer = np.array([4, 9, 4, 11], np.int32)
    # draws: 3 popular ones (from buffer[:3]) then uniform over 20 items; the positive
    # (item 4) is dropped, and item 7 comes twice
    draws = np.array([0.1, 0.5, 0.9, 7.2 / 20, 7.9 / 20, 4.5 / 20, 13.0 / 20])
    negs = np.array([9, 7, 7, 13])
    before = P[2].copy()
    ref = (P.copy(), Q.copy(), b.copy())
    _bpr_reference(*ref, 2, 4, negs, 0.05, 0.01)
    used = bpr_step(P, Q, b, 2, 4, draws, 20, 3, buffer, 3, 0.05, 0.01)
    assert used == 4
    for got, want in zip((P, Q, b), ref, strict=True):
        assert np.allclose(got, want, atol=1e-6)
    assert np.abs(P[2] - before).max() > 1e-4  # the step moved the user


def test_bpr_step_without_negatives_changes_nothing() -> None:
    P, Q, b = np.ones((1, 2), np.float32), np.ones((2, 2), np.float32), np.zeros(2, np.float32)
    assert bpr_step(P, Q, b, 0, 1, np.array([0.75]), 2, 0, np.zeros(1, np.int32), 0, 1.0, 0.0) == 0
    assert (P == 1).all() and (Q == 1).all() and (b == 0).all()


@pytest.mark.parametrize("use_catalog", [False, True], ids=["seen", "catalog"])
@pytest.mark.parametrize("n_mine", [0, 3, 200], ids=["no-items", "few-items", "many-items"])
def test_ranker_columns_put_the_positive_first_and_skip_the_excluded(
    n_mine: int, use_catalog: bool
) -> None:
    rng = np.random.default_rng(n_mine)
    n = 1000
    uniform = rng.random(300)
    draws = (uniform * n).astype(np.int64)
    seen, catalog, active = rng.random(n) < 0.7, rng.random(n) < 0.5, rng.random(n) < 0.9
    candidate = ((seen | catalog) if use_catalog else seen) & active
    mine = rng.choice(n, n_mine, replace=False).astype(np.int32)
    pos = int(draws[5])
    cols = ranker_columns(uniform, n, pos, seen, catalog, active, use_catalog, mine)
    keep = candidate[draws] & (draws != pos) & ~np.isin(draws, mine)
    assert cols[0] == pos
    assert cols[1:].tolist() == draws[keep].tolist()  # drawn order, repeats kept
    # no draws: every candidate item in order
    every = ranker_columns(np.zeros(0), n, pos, seen, catalog, active, use_catalog, mine)
    items = np.arange(n)
    want = items[candidate & (items != pos) & ~np.isin(items, mine)]
    assert every[0] == pos
    assert every[1:].tolist() == want.tolist()


def test_the_compiled_module_is_built_from_the_source_beside_it() -> None:
    from homerec import _kernels as compiled
    from homerec import _kernels_src

    source = Path(_kernels_src.__file__).read_bytes()
    planes = _kernels_src.PLANES_SOURCE.read_bytes()
    assert compiled.source_digest() == _kernels_src.source_digest(source, planes)
    assert compiled.source_digest() != _kernels_src.source_digest(source + b"\n", planes)
    # the plane numbers are compiled in: editing planes.py makes the build stale too
    assert compiled.source_digest() != _kernels_src.source_digest(source, planes + b"\n")


def test_loading_checks_the_build_against_its_source(tmp_path: Path) -> None:
    source = Path(kernels.__file__).with_name("_kernels_src.py")
    assert kernels._load("homerec._kernels", tmp_path / "absent.py")  # no source: no check
    planes = source.parent / "models" / "hybrid" / "planes.py"
    assert kernels._load("homerec._kernels", source, planes).source_digest() > 0
    stale = tmp_path / "_kernels_src.py"
    stale.write_bytes(source.read_bytes() + b"# edited\n")
    with pytest.raises(ImportError, match=r"built from another version.*make install"):
        kernels._load("homerec._kernels", stale, planes)
    stale_planes = tmp_path / "planes.py"
    stale_planes.write_bytes(planes.read_bytes() + b"# edited\n")
    with pytest.raises(ImportError, match=r"built from another version.*make install"):
        kernels._load("homerec._kernels", source, stale_planes)


def test_a_missing_or_broken_build_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Path(kernels.__file__).with_name("_kernels_src.py")
    with pytest.raises(ImportError, match=r"not built: install homerec with pip.*make install"):
        kernels._load("homerec._kernels_never_built", source)
    (tmp_path / "homerec_broken_kernels.py").write_text("raise ImportError('undefined symbol')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError, match=r"failed to load: rebuild them"):
        kernels._load("homerec_broken_kernels", source)


def test_the_kernels_load_without_numba() -> None:
    # numba's JIT runtime would add ~110 MiB to every worker (docs/kernels.md)
    code = (
        "import sys; from homerec.models.hybrid import Hybrid; import homerec.kernels; "
        "assert 'numba' not in sys.modules and 'llvmlite' not in sys.modules, sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_add_group_positive_is_numpy_logaddexp() -> None:
    rng = np.random.default_rng(4)
    logD = rng.normal(0.0, 2.0, (6, 9)).astype(np.float32)
    logD[2, 3] = 0.0  # logaddexp's x == y branch
    D_tot = rng.uniform(0, 5, 6)
    logD_item = rng.normal(1.0, 1.0, 9).astype(np.float32)
    groups = np.array([4, -1, 2, 0], np.int16)
    ref = (logD.copy(), D_tot.copy(), logD_item.copy())
    g = groups[groups >= 0]
    ref[0][g, 3] = np.logaddexp(ref[0][g, 3], 0.0)
    ref[1][g] += 1.0
    ref[2][3] = np.log(np.exp(ref[2][3]) + len(g))
    assert add_group_positive(logD, D_tot, logD_item, groups, 3) == 3
    for got, want in zip((logD, D_tot, logD_item), ref, strict=True):
        assert got.dtype == want.dtype
        assert np.allclose(got, want, rtol=1e-6, atol=0)
    assert add_group_positive(logD, D_tot, logD_item, np.full(4, -1, np.int16), 3) == 0
    assert np.array_equal(logD_item, ref[2])


@pytest.mark.parametrize("n_groups", [1, 3, 8])
def test_cold_start_ranks_are_the_numpy_counts(n_groups: int) -> None:
    # ColdStartBlend.validate's numpy form on the candidates the learner keeps: the same
    # counts, ties included (whole-number logs make many scores equal)
    rng = np.random.default_rng(n_groups)
    n = 400
    logD = rng.integers(-3, 3, (10, n)).astype(np.float32) * np.float32(0.5)
    logD_item = rng.normal(0, 1, n).astype(np.float32)
    logD_item[::3] = 0.0
    active, seen = rng.random(n) < 0.9, rng.random(n) < 0.8
    groups = rng.choice(10, n_groups, replace=False).astype(np.int16)
    for case in range(30):
        pos = int(rng.integers(n))
        looked = np.sort(rng.choice(n, 300, replace=True))
        cols = np.concatenate(([pos], looked))
        pop = np.log1p(rng.integers(0, 4, len(cols)).astype(np.float64))
        mine = rng.choice(n, case, replace=False).astype(np.int32)
        above = np.empty(len(BETA_VALUES), np.int64)
        got = cold_start_ranks(cols, pop, active, seen, mine, groups, logD, logD_item,
                               BETA_VALUES, above)  # fmt: skip
        ok = active[looked] & seen[looked] & (looked != pos) & ~np.isin(looked, mine)
        keep = np.concatenate(([True], ok))
        lift = logD[groups[:, None], cols[keep]].astype(np.float64).mean(axis=0)
        lift -= logD_item[cols[keep]]
        reference, compiled = ColdStartBlend.empty(), ColdStartBlend.empty()
        reference.validate(pop[keep], lift, 2.0)
        compiled.add_ranks(above, 2.0)
        assert got == int(ok.sum())
        assert compiled.gain.tolist() == reference.gain.tolist()

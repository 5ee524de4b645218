"""Source of :mod:`homerec.kernels`: numba code compiled ahead of time into ``homerec._kernels``.

``pip install`` builds the extension module from this file (``setup.py``, numba's
``pycc``): the worker imports plain machine code and never numba itself, whose
JIT adds ~110 MiB to every process even when it loads the kernels from its cache
(LLVM and its runtime; measured in ``docs/kernels.md``). Nothing at run time
imports this module; the tests read it only through the compiled module.

Exported functions are plain Python here and are compiled with the signatures in
:data:`SIGNATURES`; the functions they call are ``numba.njit``-ed (inlined).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

__all__ = [
    "SIGNATURES", "add_cooc_terms", "add_group_positive", "bpr_step", "cold_start_ranks", "compiler",
    "cooc_add_pairs", "explore_logits", "first_above", "ranker_columns", "ranker_grad", "source_digest", "top_columns",
]  # fmt: skip

_F = TypeVar("_F", bound=Callable[..., Any])


def _compiled(**options: Any) -> Callable[[_F], _F]:
    """``numba.njit(**options)``, typed as what it is to callers: the same function."""
    return cast(Callable[[_F], _F], numba.njit(**options))


_CLIP = 30.0  # logits beyond ±30 saturate the sigmoid in float32


#: the second source of the compiled module: the plane numbers are compiled in as constants
PLANES_SOURCE = Path(__file__).parent / "models" / "hybrid" / "planes.py"


def _hybrid_planes() -> Any:
    """:mod:`homerec.models.hybrid.planes`, loaded by path: this file is compiled before
    homerec can be imported (importing it needs the kernels built from this file)."""
    spec = importlib.util.spec_from_file_location("_homerec_hybrid_planes", PLANES_SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# the hybrid's feature planes as plain ints (numba compiles module-level ints as constants)
_PLANE = _hybrid_planes().Plane
_N_PLANES: int = len(_PLANE)
_COOC: int = int(_PLANE.COOC)
_COOC_LOG: int = int(_PLANE.COOC_LOG)
_MF: int = int(_PLANE.MF)
_POP_FAST: int = int(_PLANE.POP_FAST)
_POP_SLOW: int = int(_PLANE.POP_SLOW)
_CONTENT: int = int(_PLANE.CONTENT)
_DEMO: int = int(_PLANE.DEMO)
_POP_COLD: int = int(_PLANE.POP_COLD)
_DEMO_COLD: int = int(_PLANE.DEMO_COLD)
_CONTENT_COLD: int = int(_PLANE.CONTENT_COLD)
_CONTENT_NEW: int = int(_PLANE.CONTENT_NEW)
_ITEM_COLD: int = int(_PLANE.ITEM_COLD)
_COOC_RECENT: int = int(_PLANE.COOC_RECENT)
_ITEM_RATE: int = int(_PLANE.ITEM_RATE)


@_compiled()
def _negatives(
    draws: npt.NDArray[np.float64],
    n_items: int,
    n_popular: int,
    buffer: npt.NDArray[np.int32],
    filled: int,
    pos: int,
) -> npt.NDArray[np.int64]:
    """Negatives from uniform ``draws``: the first ``n_popular`` pick recent events from
    ``buffer[:filled]``, the rest uniform items; the positive ``pos`` is dropped."""
    out = np.empty(len(draws), np.int64)
    m = 0
    for j in range(len(draws)):
        if j < n_popular:
            neg = int(buffer[int(draws[j] * filled)])
        else:
            neg = int(draws[j] * n_items)
        if neg != pos:
            out[m] = neg
            m += 1
    return out[:m]


def bpr_step(
    P: npt.NDArray[np.float32],
    Q: npt.NDArray[np.float32],
    b: npt.NDArray[np.float32],
    u: int,
    i: int,
    draws: npt.NDArray[np.float64],
    n_items: int,
    n_popular: int,
    buffer: npt.NDArray[np.int32],
    filled: int,
    lr: float,
    reg: float,
) -> int:
    """One BPR step of ``P[u]``, ``Q[i]``, ``b[i]`` against negatives drawn from ``draws``
    (see :func:`_negatives`); returns how many negatives it used.

    Loss ``-mean_j log σ(x_j)``, ``x_j = P[u]·(Q[i] - Q[j]) + b[i] - b[j]``, plus L2
    ``reg``. Every update is computed from the rows as they were before the step; a
    negative drawn twice is updated once (the usual lock-free SGD shortcut).
    """
    negs = _negatives(draws, n_items, n_popular, buffer, filled, i)
    m = len(negs)
    if m == 0:
        return 0
    d = P.shape[1]
    p = P[u].copy()
    qi = Q[i].copy()
    qj = np.empty((m, d), np.float32)
    bj = np.empty(m, np.float32)
    for j in range(m):
        qj[j] = Q[negs[j]]
        bj[j] = b[negs[j]]
    g = np.empty(m, np.float32)
    gs = 0.0
    for j in range(m):
        x = b[i] - bj[j]
        for f in range(d):
            x += (qi[f] - qj[j, f]) * p[f]
        x = min(max(x, -_CLIP), _CLIP)
        g[j] = 1.0 / (1.0 + math.exp(x)) / m  # σ(-x) / m
        gs += g[j]
    for f in range(d):
        grad = 0.0
        for j in range(m):
            grad += g[j] * (qi[f] - qj[j, f])
        P[u, f] = p[f] + lr * (grad - reg * p[f])
        Q[i, f] = qi[f] + lr * (gs * p[f] - reg * qi[f])
    b[i] += lr * (gs - reg * b[i])
    for j in range(m):
        for f in range(d):
            Q[negs[j], f] = qj[j, f] - lr * (g[j] * p[f] + reg * qj[j, f])
        b[negs[j]] = bj[j] - lr * g[j]
    return m


def ranker_columns(
    uniform: npt.NDArray[np.float64],
    n_items: int,
    pos: int,
    seen: npt.NDArray[np.bool_],
    catalog: npt.NDArray[np.bool_],
    active: npt.NDArray[np.bool_],
    use_catalog: bool,
    mine: npt.NDArray[np.int32],
) -> npt.NDArray[np.int64]:
    """The softmax's columns: ``pos`` first, then every item drawn that is a candidate, is
    not ``pos`` and is not among the user's items ``mine``.

    The items drawn are ``int(uniform[j] * n_items)`` in order (repeats kept); no
    ``uniform`` at all means every item, in order. A candidate is an item ``seen`` (or in
    the ``catalog`` when ``use_catalog``) and ``active``, as
    :meth:`homerec.models.indexed.IndexedRecommender.candidate_mask`.
    """
    every = len(uniform) == 0
    m_draws = n_items if every else len(uniform)
    out = np.empty(m_draws + 1, np.int64)
    out[0] = pos
    m = 1
    own = np.sort(mine)
    for j in range(m_draws):
        c = j if every else int(uniform[j] * n_items)
        if c == pos or not active[c] or not (seen[c] or (use_catalog and catalog[c])):
            continue
        at = np.searchsorted(own, c)
        if at < len(own) and own[at] == c:
            continue
        out[m] = c
        m += 1
    return out[:m]


def ranker_grad(
    cols: npt.NDArray[np.int64],
    p_u: npt.NDArray[np.float32],
    Q: npt.NDArray[np.float32],
    b: npt.NDArray[np.float32],
    T: npt.NDArray[np.float32],
    pop_fast: npt.NDArray[np.float64],
    fast_scale: float,
    pop_slow: npt.NDArray[np.float64],
    slow_scale: float,
    item_count: npt.NDArray[np.float32],
    cold_scale: float,
    n_events: float,
    hist: npt.NDArray[np.int32],
    hist_w: npt.NDArray[np.float32],
    recent_w: npt.NDArray[np.float32],
    cooc_ids: npt.NDArray[np.int32],
    cooc_counts: npt.NDArray[np.float32],
    groups: npt.NDArray[np.int16],
    logD: npt.NDArray[np.float32],
    logD_item: npt.NDArray[np.float32],
    D_tot: npt.NDArray[np.float64],
    demo_prior: float,
    n_items: int,
    clicks: npt.NDArray[np.float32],
    shown: npt.NDArray[np.float32],
    rate: float,
    rate_prior: float,
    w: npt.NDArray[np.float64],
    bias: float,
    slot: npt.NDArray[np.int32],
) -> npt.NDArray[np.float64]:
    """Gradient of ``-log softmax(s)[0]`` over the items ``cols`` (``cols[0]`` the positive)
    for one user: the features of those items (the planes' rows by
    :class:`homerec.models.hybrid.planes.Plane`; :func:`homerec.models.hybrid.reference.features`
    is their plain form), their scores ``w·x + bias`` and ``Σ_j p_j x_j - x_0``, with no
    ``O(items)`` work.

    ``pop_fast``, ``pop_slow`` are the raw popularity sums and ``*_scale`` their decay
    factors (:meth:`homerec.decay.DecayedCounts.raw`); ``hist`` the user's history rows
    (newest first) with their long and recent weights; ``groups`` the user's profile group rows;
    ``clicks``, ``shown``, ``rate`` the items' clicks and exposure and the overall click
    rate, ``rate_prior`` the pseudo-clicks behind each item's rate
    (:class:`homerec.models.click_rates.ClickRates`). ``slot`` is scratch of
    ``items`` zeros, handed back zeroed.
    """
    return _ranker_grad(
        cols, p_u, Q, b, T, pop_fast, fast_scale, pop_slow, slow_scale, item_count,
        cold_scale, n_events, hist, hist_w, recent_w, cooc_ids, cooc_counts, groups,
        logD, logD_item, D_tot, demo_prior, n_items, clicks, shown, rate, rate_prior,
        w, bias, slot,
    )  # fmt: skip


@_compiled(fastmath={"reassoc", "contract"})
def _ranker_grad(
    cols: npt.NDArray[np.int64],
    p_u: npt.NDArray[np.float32],
    Q: npt.NDArray[np.float32],
    b: npt.NDArray[np.float32],
    T: npt.NDArray[np.float32],
    pop_fast: npt.NDArray[np.float64],
    fast_scale: float,
    pop_slow: npt.NDArray[np.float64],
    slow_scale: float,
    item_count: npt.NDArray[np.float32],
    cold_scale: float,
    n_events: float,
    hist: npt.NDArray[np.int32],
    hist_w: npt.NDArray[np.float32],
    recent_w: npt.NDArray[np.float32],
    cooc_ids: npt.NDArray[np.int32],
    cooc_counts: npt.NDArray[np.float32],
    groups: npt.NDArray[np.int16],
    logD: npt.NDArray[np.float32],
    logD_item: npt.NDArray[np.float32],
    D_tot: npt.NDArray[np.float64],
    demo_prior: float,
    n_items: int,
    clicks: npt.NDArray[np.float32],
    shown: npt.NDArray[np.float32],
    rate: float,
    rate_prior: float,
    w: npt.NDArray[np.float64],
    bias: float,
    slot: npt.NDArray[np.int32],
) -> npt.NDArray[np.float64]:
    """See :func:`ranker_grad` (compiled with reassociation, so its sums vectorise)."""
    m = len(cols)
    d = Q.shape[1]
    n_tags = T.shape[1]
    nf = _N_PLANES
    X = np.zeros((nf, m))
    # co-occurrence with the history, at the columns only: each distinct column gets a
    # slot; the history's neighbour lists are scanned once
    first = np.empty(m, np.int64)
    for j in range(m):
        c = cols[j]
        if slot[c] == 0:
            slot[c] = j + 1
        first[j] = slot[c] - 1
    long_ = np.zeros(m)
    recent = np.zeros(m)
    prof = np.zeros(n_tags, np.float32)
    for a in range(len(hist)):
        h = hist[a]
        norm = 1.0 / math.sqrt(item_count[h] + 1.0)
        wl = hist_w[a] * norm
        wr = recent_w[a] * norm
        for k in range(cooc_ids.shape[1]):
            nb = cooc_ids[h, k]
            if nb >= 0 and slot[nb] > 0:
                long_[slot[nb] - 1] += wl * cooc_counts[h, k]
                recent[slot[nb] - 1] += wr * cooc_counts[h, k]
        for t in range(n_tags):
            prof[t] += hist_w[a] * T[h, t]
    for j in range(m):
        slot[cols[j]] = 0
    pnorm = 0.0
    for t in range(n_tags):
        pnorm += prof[t] * prof[t]
    pnorm = math.sqrt(pnorm)
    if pnorm > 0:
        prof /= pnorm
    # the demographic lift's per-user constant
    tot = 0.0
    for g in range(len(D_tot)):
        tot += D_tot[g]
    has_demo = len(groups) > 0 and tot > 0
    g_const = 0.0
    if has_demo:
        for g in groups:
            g_const += math.log(D_tot[g] + demo_prior * n_items)
    base_const = math.log(tot + demo_prior * n_items)
    user_cold = math.exp(-min(n_events / cold_scale, 60.0))
    # gathers first, in loops with nothing else in them: the CPU keeps many of their
    # cache misses in flight at once (a column's rows are spread over the tables)
    Qc = np.empty((m, d), np.float32)
    Tc = np.empty((m, n_tags), np.float32)
    for j in range(m):
        Qc[j] = Q[cols[j]]
        Tc[j] = T[cols[j]]
    cnt = np.empty(m)
    bias_c = np.empty(m)
    pf = np.empty(m)
    ps = np.empty(m)
    lift_rate = np.empty(m)
    for j in range(m):
        c = cols[j]
        cnt[j] = item_count[c]
        bias_c[j] = b[c]
        pf[j] = pop_fast[c]
        ps[j] = pop_slow[c]
        lift_rate[j] = math.log((clicks[c] + rate_prior) / (rate * shown[c] + rate_prior))
    lift = np.zeros(m)
    if has_demo:
        for g in groups:
            for j in range(m):
                lift[j] += logD[g, cols[j]]
        for j in range(m):
            lift[j] = (lift[j] - g_const) / len(groups) - (logD_item[cols[j]] - base_const)
    pw = (p_u * w[nf : nf + d]).astype(np.float32)
    w_tags = w[nf + d :].astype(np.float32)
    mf = np.empty(m)
    content = np.empty(m)
    s = np.empty(m)
    for j in range(m):  # row products in float32: they vectorise
        dot_p = np.float32(0.0)
        dot_w = np.float32(0.0)
        for k in range(d):
            dot_p += Qc[j, k] * p_u[k]
            dot_w += Qc[j, k] * pw[k]
        dot_prof = np.float32(0.0)
        dot_tags = np.float32(0.0)
        for t in range(n_tags):
            dot_prof += Tc[j, t] * prof[t]
            dot_tags += Tc[j, t] * w_tags[t]
        mf[j] = dot_p
        content[j] = dot_prof
        s[j] = dot_w + dot_tags + bias
    for j in range(m):
        inv_sqrt = 1.0 / math.sqrt(cnt[j] + 1.0)
        lg = long_[first[j]]
        X[_COOC, j] = lg * inv_sqrt
        X[_COOC_LOG, j] = math.log1p(lg)
        X[_COOC_RECENT, j] = recent[first[j]] * inv_sqrt
        X[_MF, j] = mf[j] + bias_c[j]
        X[_POP_FAST, j] = math.log1p(max(pf[j] * fast_scale, 1e-30))
        X[_POP_SLOW, j] = math.log1p(max(ps[j] * slow_scale, 1e-30))
        X[_CONTENT, j] = content[j]
        X[_DEMO, j] = lift[j]
        item_cold = math.exp(-min(cnt[j] / cold_scale, 60.0))
        X[_ITEM_COLD, j] = item_cold
        X[_POP_COLD, j] = X[_POP_FAST, j] * user_cold
        X[_DEMO_COLD, j] = X[_DEMO, j] * user_cold
        X[_CONTENT_COLD, j] = X[_CONTENT, j] * user_cold
        X[_CONTENT_NEW, j] = X[_CONTENT, j] * item_cold
        X[_ITEM_RATE, j] = lift_rate[j]
        for f in range(nf):
            s[j] += w[f] * X[f, j]
    # softmax minus the positive's one-hot, clipped at e^-80 like the dense step
    top = s.max()
    total = 0.0
    for j in range(m):
        s[j] = math.exp(max(s[j] - top, -80.0))
        total += s[j]
    s /= total
    s[0] -= 1.0
    grad = np.zeros(nf + d + n_tags)
    g_q = np.zeros(d, np.float32)
    g_t = np.zeros(n_tags, np.float32)
    for j in range(m):
        pj = np.float32(s[j])
        for k in range(d):
            g_q[k] += pj * Qc[j, k]
        for t in range(n_tags):
            g_t[t] += pj * Tc[j, t]
    for f in range(nf):
        acc = 0.0
        for j in range(m):
            acc += X[f, j] * s[j]
        grad[f] = acc
    for k in range(d):
        grad[nf + k] = p_u[k] * g_q[k]
    for t in range(n_tags):
        grad[nf + d + t] = g_t[t]
    return grad


def add_cooc_terms(
    S: npt.NDArray[np.float32],
    rows: npt.NDArray[np.int64],
    starts: npt.NDArray[np.int64],
    hist: npt.NDArray[np.int32],
    w_long: npt.NDArray[np.float32],
    w_recent: npt.NDArray[np.float32],
    cooc_ids: npt.NDArray[np.int32],
    cooc_counts: npt.NDArray[np.float32],
    item_count: npt.NDArray[np.float32],
    cooc: npt.NDArray[np.float32],
    recent: npt.NDArray[np.float32],
    log_weight: float,
    acc: npt.NDArray[np.float64],
    touched: npt.NDArray[np.int64],
) -> int:
    """Add the co-occurrence planes of histories to their score rows; returns the number
    of ``(row, item)`` pairs it touched.

    History ``j`` belongs to row ``rows[j]`` of ``S`` and is ``hist[starts[j]:starts[j+1]]``
    (newest first) with long and recent recency weights ``w_long``, ``w_recent``. Per
    history, every neighbour slot of its items is scanned once: ``c0 = Σ_h w_long[h] ·
    C[h, i] / √(n_h + 1)`` (float64 sums in slot order, like ``np.bincount``) and ``c1``
    likewise, then ``S[r, i] += cooc[i]·c0 + recent[i]·c1 + log_weight·log1p(c0)`` at the
    items ``i`` they reach (``cooc``, ``recent``: the planes' weights times
    ``1/√(n_i + 1)``). ``acc`` (2 × items) is zero scratch, handed back zeroed;
    ``touched`` needs room for one history's slots.
    """
    total = 0
    for j in range(len(rows)):
        r = rows[j]
        m = 0
        for a in range(starts[j], starts[j + 1]):
            h = hist[a]
            norm = np.float32(1.0) / np.sqrt(item_count[h] + np.float32(1.0))
            wl = w_long[a] * norm
            wr = w_recent[a] * norm
            for k in range(cooc_ids.shape[1]):
                nb = cooc_ids[h, k]
                if nb < 0:
                    continue
                if acc[0, nb] == 0.0 and acc[1, nb] == 0.0:
                    touched[m] = nb
                    m += 1
                acc[0, nb] += np.float64(wl * cooc_counts[h, k])
                acc[1, nb] += np.float64(wr * cooc_counts[h, k])
        for q in range(m):
            i = touched[q]
            c0 = np.float32(acc[0, i])
            c1 = np.float32(acc[1, i])
            S[r, i] += cooc[i] * c0 + recent[i] * c1 + np.float32(log_weight) * np.log1p(c0)
            acc[0, i] = 0.0
            acc[1, i] = 0.0
        total += m
    return total


def cooc_add_pairs(
    ids: npt.NDArray[np.int32],
    counts: npt.NDArray[np.float32],
    src: npt.NDArray[np.int32],
    dst: int,
    weights: npt.NDArray[np.float32],
) -> None:
    """``C[s, dst] += w`` and ``C[dst, s] += w`` for every ``s, w`` in ``zip(src, weights)``
    (``src`` unique, without ``dst``): :meth:`homerec.cooccurrence.CooccurrenceTable.add`
    then :meth:`~homerec.cooccurrence.CooccurrenceTable.add_row`, in one call.

    A pair not in its row takes a free or the weakest slot: in ``C[s, ·]`` the first
    slot of least count; in ``C[dst, ·]`` the pairs that are new take the slots of
    least count (ties: the lowest slot first) among those not just updated, in the
    order of ``src``; new pairs beyond those slots are dropped (``add_row`` would evict
    pairs it had just updated: only when ``len(src)`` exceeds the row's capacity).
    """
    cap = ids.shape[1]
    for a in range(len(src)):
        s = src[a]
        slot = -1
        for k in range(cap):
            if ids[s, k] == dst:
                slot = k
                break
        if slot >= 0:
            counts[s, slot] += weights[a]
        else:
            least = 0
            for k in range(1, cap):
                if counts[s, k] < counts[s, least]:
                    least = k
            ids[s, least] = dst
            counts[s, least] = weights[a]
    key = counts[dst].copy()
    new = np.empty(len(src), np.int64)
    n_new = 0
    for a in range(len(src)):
        slot = -1
        for k in range(cap):
            if ids[dst, k] == src[a]:
                slot = k
                break
        if slot >= 0:
            counts[dst, slot] += weights[a]
            key[slot] = np.inf  # never evict a pair just updated
        else:
            new[n_new] = a
            n_new += 1
    n_new = min(n_new, cap - (len(src) - n_new))
    for q in range(n_new):
        least = -1
        for k in range(cap):
            if key[k] != np.inf and (least < 0 or key[k] < key[least]):
                least = k
        key[least] = np.inf
        ids[dst, least] = src[new[q]]
        counts[dst, least] = weights[new[q]]


def add_group_positive(
    logD: npt.NDArray[np.float32],
    D_tot: npt.NDArray[np.float64],
    logD_item: npt.NDArray[np.float32],
    groups: npt.NDArray[np.int16],
    i: int,
) -> int:
    """One positive of item ``i`` for each profile group in ``groups`` (``-1``: empty slot):
    ``logD[g, i] = log(exp(logD[g, i]) + 1)``, ``D_tot[g] += 1`` and ``logD_item[i] =
    log(exp(logD_item[i]) + n)`` with ``n`` the groups counted, in float32 as numpy's
    ``logaddexp``; returns ``n``."""
    n = 0
    for g in groups:
        if g < 0:
            continue
        x = logD[g, i]
        # numpy's float32 logaddexp(x, 0)
        if x == 0:
            logD[g, i] = np.float32(0.6931471805599453)
        elif x > 0:
            logD[g, i] = x + np.log1p(np.exp(-x))
        else:
            logD[g, i] = np.log1p(np.exp(x))
        D_tot[g] += 1.0
        n += 1
    if n:
        logD_item[i] = np.log(np.exp(logD_item[i]) + np.float32(n))
    return n


def cold_start_ranks(
    cols: npt.NDArray[np.int64],
    pop: npt.NDArray[np.float64],
    active: npt.NDArray[np.bool_],
    allowed: npt.NDArray[np.bool_],
    mine: npt.NDArray[np.int32],
    groups: npt.NDArray[np.int16],
    logD: npt.NDArray[np.float32],
    logD_item: npt.NDArray[np.float32],
    betas: npt.NDArray[np.float64],
    ranks: npt.NDArray[np.int64],
) -> int:
    """One validation case of the cold-start blend
    (:meth:`homerec.models.hybrid.cold_start.ColdStartBlend.validate`): into ``ranks[b]``,
    how many candidates among ``cols[1:]`` score above the positive ``cols[0]`` under
    ``pop + betas[b] * lift``; returns how many candidates there were.

    ``pop`` is the popularity term at ``cols`` (computed by the caller); the lift at an
    item is the mean of ``logD`` over ``groups`` (at least one) minus ``logD_item``, in
    float64 and in numpy's order, so the counts are those of the numpy form. A candidate
    is ``active`` and ``allowed`` (seen, or in the catalog), not the positive and not
    among the user's items ``mine``.
    """
    n_groups = len(groups)
    n_betas = len(betas)
    pos = cols[0]
    own = np.sort(mine)
    lift0 = np.float64(logD[groups[0], pos])
    for g in range(1, n_groups):
        lift0 += np.float64(logD[groups[g], pos])
    lift0 = lift0 / n_groups - np.float64(logD_item[pos])
    top = np.empty(n_betas)
    for b in range(n_betas):
        top[b] = pop[0] + betas[b] * lift0
        ranks[b] = 0
    m = 0
    for j in range(1, len(cols)):
        c = cols[j]
        if c == pos or not active[c] or not allowed[c]:
            continue
        at = np.searchsorted(own, c)
        if at < len(own) and own[at] == c:
            continue
        m += 1
        lift = np.float64(logD[groups[0], c])
        for g in range(1, n_groups):
            lift += np.float64(logD[groups[g], c])
        lift = lift / n_groups - np.float64(logD_item[c])
        for b in range(n_betas):
            if pop[j] + betas[b] * lift > top[b]:
                ranks[b] += 1
    return m


def explore_logits(
    scores: npt.NDArray[np.float32],
    pool: npt.NDArray[np.bool_],
    columns: npt.NDArray[np.int64],
    bonus: npt.NDArray[np.float32],
    never: npt.NDArray[np.bool_],
    at: npt.NDArray[np.int64],
    logits: npt.NDArray[np.float64],
) -> int:
    """The logits of one exploration draw (:func:`homerec.exploration.draw`) among the
    positions of ``scores`` in ``pool``: into ``at[:m]`` the positions that may be drawn,
    into ``logits[:m]`` their logits; returns ``m``.

    ``bonus`` and ``never`` are per item, the item of position ``j`` being ``columns[j]``
    (no columns: ``j``). The standardisation's spread is over the whole pool (float64);
    while some item of the pool was never shown, only those may be drawn, by score,
    else all of them, with the bonus. Two passes, the second over the pool only; the
    caller takes the exponentials (numpy's are vectorised, compiled ones here are not;
    the logits are packed because ``-inf`` or underflowing lanes make numpy's slow) and
    :func:`first_above`.
    """
    size = len(scores)
    mapped = len(columns) > 0
    m = 0
    fresh = 0
    total = 0.0
    squares = 0.0
    for j in range(size):  # no branch on the pool: the positions are packed as they come
        at[m] = j
        take = pool[j]
        x = np.float64(scores[j]) if take else 0.0
        m += take
        total += x
        squares += x * x
        fresh += take and never[columns[j] if mapped else j]
    if m == 0:
        return 0
    mean = total / m
    sd = math.sqrt(max(squares / m - mean * mean, 0.0))
    scale = 1.0 / sd if sd > 0 else 0.0
    k = 0
    for a in range(m):
        j = at[a]
        item = columns[j] if mapped else j
        x = scores[j] * scale
        if not fresh:
            x += bonus[item]
        at[k] = j
        logits[k] = x
        # brand-new first: only those, each with the same bonus (it drops out)
        k += not fresh or never[item]
    return k


def first_above(weights: npt.NDArray[np.float64], target: float) -> int:
    """The first index where the running sum of ``weights`` passes ``target`` (else the
    last positive weight's): ``rng.choice``'s pick for ``target = u · Σ weights``."""
    run = 0.0
    for a in range(len(weights)):
        run += weights[a]
        if run > target:
            return a
    a = len(weights) - 1
    while a > 0 and not weights[a] > 0.0:
        a -= 1
    return a


def top_columns(
    scores: npt.NDArray[np.float32],
    want: int,
    cols: npt.NDArray[np.int64],
    vals: npt.NDArray[np.float32],
) -> None:
    """The ``want`` best finite scores of every row of ``scores`` into ``cols``/``vals``
    (``rows × want``), best first; of equal scores the lower column first, also at the
    cut-off. A row with fewer finite scores is padded with column 0 and ``-inf``.

    One pass per row that keeps the best so far in sorted order: once ``want`` are
    held, most scores lose one comparison with the cut-off (random scores of 10,000
    columns: ~260 insertions for ``want`` 40). The comparisons go 16 columns at a time
    (one vectorised compare-any); only a group holding a score above the cut-off is
    walked one score at a time.
    """
    n_rows, n_cols = scores.shape
    best = np.empty(want, np.float32)
    where = np.empty(want, np.int64)
    group = 16
    whole = n_cols - n_cols % group  # columns in whole groups; the rest are walked
    for r in range(n_rows):
        row = scores[r]
        m = 0
        cut = np.float32(-np.inf)  # a score must beat it to enter (the want-th best, once full)
        start = 0
        while start < n_cols:
            if start < whole:
                end = start + group
                hit = False
                for c in range(start, end):
                    hit |= row[c] > cut  # False for -inf (not a candidate) and NaN
                if not hit:
                    start = end
                    continue
            else:
                end = n_cols
            for c in range(start, end):
                v = row[c]
                if not v > cut:
                    continue
                if m == want:
                    j = want - 1
                else:
                    j = m
                    m += 1
                while j > 0 and best[j - 1] < v:
                    best[j] = best[j - 1]
                    where[j] = where[j - 1]
                    j -= 1
                best[j] = v
                where[j] = c
                if m == want:
                    cut = best[want - 1]
            start = end
        for j in range(m):
            vals[r, j] = best[j]
            cols[r, j] = where[j]
        for j in range(m, want):
            vals[r, j] = -np.inf
            cols[r, j] = 0


#: Exported name → numba signature. Arrays are C-contiguous; callers pass exactly these
#: dtypes (the compiled module checks them and raises TypeError otherwise).
SIGNATURES: dict[str, str] = {
    "add_cooc_terms": (
        "i8(f4[:, ::1], i8[::1], i8[::1], i4[::1], f4[::1], f4[::1], i4[:, ::1], f4[:, ::1],"
        " f4[::1], f4[::1], f4[::1], f8, f8[:, ::1], i8[::1])"
    ),
    "add_group_positive": "i8(f4[:, ::1], f8[::1], f4[::1], i2[::1], i8)",
    "cold_start_ranks": (
        "i8(i8[::1], f8[::1], b1[::1], b1[::1], i4[::1], i2[::1], f4[:, ::1], f4[::1], f8[::1],"
        " i8[::1])"
    ),
    "bpr_step": "i8(f4[:, ::1], f4[:, ::1], f4[::1], i8, i8, f8[::1], i8, i8, i4[::1], i8, f8, f8)",
    "cooc_add_pairs": "none(i4[:, ::1], f4[:, ::1], i4[::1], i8, f4[::1])",
    "explore_logits": "i8(f4[::1], b1[::1], i8[::1], f4[::1], b1[::1], i8[::1], f8[::1])",
    "first_above": "i8(f8[::1], f8)",
    "ranker_columns": "i8[::1](f8[::1], i8, i8, b1[::1], b1[::1], b1[::1], b1, i4[::1])",
    "top_columns": "none(f4[:, ::1], i8, i8[:, ::1], f4[:, ::1])",
    "ranker_grad": (
        "f8[::1](i8[::1], f4[::1], f4[:, ::1], f4[::1], f4[:, ::1], f8[::1], f8, f8[::1], f8,"
        " f4[::1], f8, f8, i4[::1], f4[::1], f4[::1], i4[:, ::1], f4[:, ::1], i2[::1],"
        " f4[:, ::1], f4[::1], f8[::1], f8, i8, f4[::1], f4[::1], f8, f8, f8[::1], f8,"
        " i4[::1])"
    ),
}


def compiler() -> Any:
    """numba's ahead-of-time compiler for ``homerec._kernels``; ``setup.py`` builds it
    through the compiler's public ``distutils_extension()``.

    This module must be loaded under its package name, ``homerec._kernels_src``, for
    the extension to be named ``homerec._kernels``.
    """
    cc: Any = importlib.import_module("numba.pycc").CC("_kernels")
    for name, signature in SIGNATURES.items():
        cc.export(name, signature)(globals()[name])
    built_from = source_digest(*(p.read_bytes() for p in (Path(__file__), PLANES_SOURCE)))

    def digest() -> int:
        return built_from

    # homerec.kernels compares it with the source installed next to it
    cc.export("source_digest", "i8()")(digest)
    return cc


def source_digest(*sources: bytes) -> int:
    """A 63-bit digest of the sources' bytes (this file's, then :data:`PLANES_SOURCE`'s),
    compiled into the module built from them."""
    digest = hashlib.sha256()
    for source in sources:
        digest.update(hashlib.sha256(source).digest())
    return int.from_bytes(digest.digest()[:8], "little") >> 1

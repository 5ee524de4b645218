# Types of the extension module built from homerec/_kernels_src.py (see setup.py).
import numpy as np
import numpy.typing as npt

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
) -> int: ...
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
) -> int: ...
def ranker_columns(
    draws: npt.NDArray[np.int64],
    pos: int,
    candidate: npt.NDArray[np.bool_],
    mine: npt.NDArray[np.int32],
) -> npt.NDArray[np.int64]: ...
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
    w: npt.NDArray[np.float64],
    bias: float,
    slot: npt.NDArray[np.int32],
) -> npt.NDArray[np.float64]: ...
def source_digest() -> int: ...

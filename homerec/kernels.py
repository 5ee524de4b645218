"""Compiled per-event learning steps: the ones too small for numpy.

A BPR step against 8 negatives is ~15 numpy calls on 32-float rows: ~35 µs of
call overhead for well under 1 µs of arithmetic; the ranker's sampled-softmax
step was ~40 calls. Compiled, each is one call of plain loops over the rows it
touches. The functions take and update the model's own arrays in place and are
deterministic, so a model restored from a checkpoint and fed the same events
reaches the same state bit for bit.

The machine code is built when homerec is installed (``setup.py`` compiles
``homerec/_kernels_src.py`` with numba's ahead-of-time compiler into the
extension module ``homerec._kernels``). Nothing imports numba at run time: its
JIT would add ~130 MiB to every worker (LLVM and its runtime), an eighth of the
1 GiB budget for a million users. After editing ``_kernels_src.py``, rebuild
with ``pip install -e .``; importing this module says so when the two differ.

Signatures and documentation: :mod:`homerec._kernels_src`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

__all__ = [
    "add_cooc_terms", "add_group_positive", "bpr_step", "cooc_add_pairs", "ranker_columns",
    "ranker_grad", "top_columns",
]  # fmt: skip

if TYPE_CHECKING:  # the compiled functions have the signatures of their source
    from homerec._kernels_src import (
        add_cooc_terms,
        add_group_positive,
        bpr_step,
        cooc_add_pairs,
        ranker_columns,
        ranker_grad,
        top_columns,
    )
else:
    try:
        from homerec import _kernels
    except ImportError as exc:  # a checkout used without installing it
        raise ImportError(
            "homerec's compiled kernels (homerec._kernels) are missing: install homerec "
            "with pip, which builds them (in a checkout: pip install -e .)"
        ) from exc

    def _digest(source: bytes) -> int:
        # as homerec._kernels_src.source_digest (which imports numba: not imported here)
        return int.from_bytes(hashlib.sha256(source).digest()[:8], "little") >> 1

    _SOURCE = Path(__file__).with_name("_kernels_src.py")
    if _SOURCE.exists() and _kernels.source_digest() != _digest(_SOURCE.read_bytes()):
        raise ImportError(
            f"homerec._kernels was built from another version of {_SOURCE}: rebuild it "
            "(in a checkout: pip install -e .)"
        )

    add_cooc_terms = _kernels.add_cooc_terms
    add_group_positive = _kernels.add_group_positive
    bpr_step = _kernels.bpr_step
    cooc_add_pairs = _kernels.cooc_add_pairs
    ranker_columns = _kernels.ranker_columns
    ranker_grad = _kernels.ranker_grad
    top_columns = _kernels.top_columns

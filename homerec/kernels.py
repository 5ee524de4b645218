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
JIT, even loading from a warm cache, adds ~110 MiB to every worker (LLVM and its
runtime), a tenth of the 1 GiB budget for a million users (``docs/kernels.md``).
After editing ``_kernels_src.py``, rebuild with ``make install`` (or
``pip install -e .``); importing this module says so when the two differ.

Signatures and documentation: :mod:`homerec._kernels_src`.
"""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

__all__ = [
    "add_cooc_terms", "add_group_positive", "bpr_step", "cold_start_ranks", "cooc_add_pairs",
    "explore_logits", "first_above", "ranker_columns", "ranker_grad", "top_columns",
]  # fmt: skip

_REBUILD = "in a checkout: make install or pip install -e .; otherwise reinstall homerec with pip"


def _digest(*sources: bytes) -> int:
    # as homerec._kernels_src.source_digest (which imports numba: not imported here)
    digest = hashlib.sha256()
    for source in sources:
        digest.update(hashlib.sha256(source).digest())
    return int.from_bytes(digest.digest()[:8], "little") >> 1


def _load(name: str, source: Path, *more: Path) -> ModuleType:
    """The compiled module ``name``, checked to be built from ``source`` and ``more`` (when
    they are present: an installed package without its sources is not checked).

    Raises :class:`ImportError` naming the fix when it was never built, cannot be
    loaded, or was built from another version of ``source``.
    """
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        raise ImportError(
            f"homerec's compiled kernels ({name}) are not built: install homerec with pip, "
            f"which compiles them from {source.name} (needs a C compiler; {_REBUILD})"
        ) from exc
    except ImportError as exc:  # built, but for another Python or numpy, or damaged
        raise ImportError(
            f"homerec's compiled kernels ({name}) failed to load: rebuild them ({_REBUILD})"
        ) from exc
    sources = (source, *more)
    if all(p.exists() for p in sources) and module.source_digest() != _digest(
        *(p.read_bytes() for p in sources)
    ):
        raise ImportError(
            f"{name} was built from another version of {source}: rebuild it ({_REBUILD})"
        )
    return module


if TYPE_CHECKING:  # the compiled functions have the signatures of their source
    from homerec._kernels_src import (
        add_cooc_terms,
        add_group_positive,
        bpr_step,
        cold_start_ranks,
        cooc_add_pairs,
        explore_logits,
        first_above,
        ranker_columns,
        ranker_grad,
        top_columns,
    )
else:
    _kernels = _load(
        "homerec._kernels",
        Path(__file__).with_name("_kernels_src.py"),
        Path(__file__).parent / "models" / "hybrid" / "planes.py",
    )
    add_cooc_terms = _kernels.add_cooc_terms
    add_group_positive = _kernels.add_group_positive
    bpr_step = _kernels.bpr_step
    cold_start_ranks = _kernels.cold_start_ranks
    cooc_add_pairs = _kernels.cooc_add_pairs
    explore_logits = _kernels.explore_logits
    first_above = _kernels.first_above
    ranker_columns = _kernels.ranker_columns
    ranker_grad = _kernels.ranker_grad
    top_columns = _kernels.top_columns

"""Builds homerec's one extension module, ``homerec._kernels``, from ``homerec/_kernels_src.py``.

Everything else is in ``pyproject.toml``. The kernels are numba code compiled ahead
of time with numba's public ``numba.pycc.CC.distutils_extension()`` (numba's own
``build_ext`` compiles the object files), so numba is needed to build
(``build-system.requires``) but never imported at run time. Why this build and
not numba's JIT cache: ``docs/kernels.md``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from setuptools import setup

SOURCE = Path(__file__).resolve().parent / "homerec" / "_kernels_src.py"


def _kernels_extension() -> Any:
    # loaded by path under its package name, without importing the homerec package
    spec = importlib.util.spec_from_file_location("homerec._kernels_src", SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.compiler().distutils_extension()


setup(ext_modules=[_kernels_extension()])

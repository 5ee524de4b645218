"""Builds homerec's one extension module, ``homerec._kernels``, from ``homerec/_kernels_src.py``.

Everything else is in ``pyproject.toml``. The kernels are numba code compiled ahead
of time (``numba.pycc``), so numba is needed to build (``build-system.requires``)
but never imported at run time.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

SOURCE = Path(__file__).resolve().parent / "homerec" / "_kernels_src.py"


def _kernels_extension() -> Any:
    # loaded by path under its package name, without importing the homerec package
    spec = importlib.util.spec_from_file_location("homerec._kernels_src", SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.compiler().distutils_extension()


class BuildKernels(build_ext):
    """setuptools' build_ext that first compiles numba's object files for the extension."""

    def build_extension(self, ext: Any) -> None:
        prepare = getattr(ext, "_prepare_object_files", None)
        if prepare is not None:
            prepare(self)
        super().build_extension(ext)


setup(ext_modules=[_kernels_extension()], cmdclass={"build_ext": BuildKernels})

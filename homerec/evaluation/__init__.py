"""Prequential evaluation: the worker's model calls replayed over a recorded stream."""

from __future__ import annotations

from homerec.evaluation.prequential import EvalResult, evaluate

__all__ = ["EvalResult", "evaluate"]

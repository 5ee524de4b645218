"""Offline evaluation through the worker's model calls: the prequential protocol (every
positive event ranked before it is learned) and the static temporal split (learn the past,
one list per cold and warm user for the future)."""

from __future__ import annotations

from homerec.evaluation.prequential import EvalResult, evaluate
from homerec.evaluation.split import SplitResult, evaluate_split

__all__ = ["EvalResult", "SplitResult", "evaluate", "evaluate_split"]

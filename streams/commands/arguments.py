"""argparse ``type=`` converters that reject nonsensical numbers with a clear message.

argparse turns the :class:`argparse.ArgumentTypeError` they raise into
``homerec worker: error: argument --k: must be a positive integer, got 0``.

>>> positive_int("3"), non_negative_int("0"), share("0.5"), port("9400")
(3, 0, 0.5, 9400)
>>> positive_int("0")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: must be a positive integer, got 0
>>> share("1.5")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: must be a number in (0, 1], got 1.5
"""

from __future__ import annotations

import argparse
import math

__all__ = [
    "explore_share",
    "finite_float",
    "non_negative_float",
    "non_negative_int",
    "port",
    "positive_int",
    "share",
]


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def finite_float(text: str) -> float:
    """Any finite number (no NaN, no infinity)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0 (0 usually means "off")."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {value}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (0 usually means "off")."""
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def share(text: str) -> float:
    """A fraction in (0, 1]."""
    value = finite_float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1], got {text}")
    return value


def explore_share(text: str) -> float:
    """A fraction in [0, 1) (the share of a page's slots that exploration fills)."""
    value = finite_float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {text}")
    return value


def port(text: str) -> int:
    """A TCP port, 0..65535 (0 = off)."""
    value = _int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number in 0..65535, got {value}")
    return value

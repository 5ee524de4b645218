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

from homerec.errors import ConfigError
from homerec.hiding import PRESETS, HidingRules

__all__ = [
    "explore_share",
    "finite_float",
    "hiding_help",
    "hiding_rules",
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


def hiding_rules(text: str) -> HidingRules:
    """Hiding rules from a preset name and/or ``TYPE=forever|EVENTS`` overrides
    (:meth:`homerec.hiding.HidingRules.parse`)."""
    try:
        return HidingRules.parse(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def hiding_help(default: str) -> str:
    """The ``--hiding`` help text, the same for every command that takes it."""
    return (
        "which events hide their item from the user's lists, and for how long: a preset ("
        + "; ".join(f"{name}: {_differences(rules)}" for name, rules in PRESETS.items())
        + "), then TYPE=forever|N overrides (N: for the user's next N events; 0: not "
        "hidden), "
        f"e.g. 'news,skip=50'. Impressions never hide (default {default}; README 'Hiding rules')"
    )


def _differences(rules: HidingRules) -> str:
    """The rules that do not hide for good, or "all forever"."""
    rest = [f"{t}={v}" for t, v in rules.as_dict().items() if v != "forever"]
    return ",".join(rest) or "every type forever"

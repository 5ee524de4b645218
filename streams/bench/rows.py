"""Result rows of the bench phases as JSON-ready dicts.

>>> from dataclasses import dataclass
>>> @dataclass
... class Row:
...     n: int
...     ms: float
>>> rounded_fields(Row(3, 0.123456), 3)
{'n': 3, 'ms': 0.123}
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["rounded_fields"]


def rounded_fields(row: Any, digits: int) -> dict[str, Any]:
    """The fields of dataclass instance ``row``, floats rounded to ``digits`` places."""
    return {k: (round(v, digits) if isinstance(v, float) else v)
            for k, v in dataclasses.asdict(row).items()}  # fmt: skip

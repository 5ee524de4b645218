"""Dataset readers by ``--format`` name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from homerec.datasets.base import Dataset
from homerec.datasets.events_jsonl import load_events_jsonl
from homerec.datasets.movielens import load_ml100k, load_movielens_csv
from homerec.errors import ConfigError

__all__ = ["FORMATS", "load_dataset"]

FORMATS: Mapping[str, Callable[[str | Path], Dataset]] = MappingProxyType(
    {
        "ml-100k": load_ml100k,
        "movielens-csv": load_movielens_csv,
        "events-jsonl": load_events_jsonl,
    }
)


def load_dataset(path: str | Path, fmt: str) -> Dataset:
    """Read ``path`` in format ``fmt`` (one of :data:`FORMATS`)."""
    try:
        reader = FORMATS[fmt]
    except KeyError:
        raise ConfigError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}") from None
    return reader(path)

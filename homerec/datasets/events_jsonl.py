"""homerec's own event schema as JSON lines: one :meth:`Event.from_dict` object a line.

``load_events_jsonl(path)`` reads a file, or a directory holding
``events.jsonl`` and optionally ``items.jsonl`` (:meth:`Item.from_dict` per
line) and ``profiles.jsonl`` (``{"user": ..., "features": {...}}`` per line).
Blank lines are skipped; a bad line raises :class:`~homerec.errors.InvalidEvent`
naming its line number. Events are sorted by ``ts``, ties in file order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from homerec.datasets.base import Dataset
from homerec.errors import ConfigError, InvalidEvent
from homerec.events import Event
from homerec.items import Item
from homerec.profiles import UserProfile

__all__ = ["load_events_jsonl"]


def _lines(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidEvent("bad_json", f"{path.name}:{n}: {exc.msg}") from None


def load_events_jsonl(path: str | Path) -> Dataset:
    """Read events (and optional catalog and profiles) in homerec's JSON-lines schema."""
    p = Path(path)
    items_file = profiles_file = None
    if p.is_dir():
        items_file, profiles_file = p / "items.jsonl", p / "profiles.jsonl"
        p = p / "events.jsonl"
    if not p.is_file():
        raise ConfigError(f"missing data file {p}")
    events: list[Event] = []
    for n, raw in _lines(p):
        try:
            events.append(Event.from_dict(raw))
        except InvalidEvent as exc:
            raise InvalidEvent(exc.reason, f"{p.name}:{n}: {exc.detail}") from None
    items: list[Item] = []
    if items_file is not None and items_file.is_file():
        for n, raw in _lines(items_file):
            try:
                items.append(Item.from_dict(raw))
            except InvalidEvent as exc:
                raise InvalidEvent(exc.reason, f"{items_file.name}:{n}: {exc.detail}") from None
    profiles: list[UserProfile] = []
    if profiles_file is not None and profiles_file.is_file():
        for n, raw in _lines(profiles_file):
            if not isinstance(raw, dict) or not isinstance(raw.get("user"), str):
                raise InvalidEvent("bad_value", f"{profiles_file.name}:{n}: need a 'user' string")
            feats = raw.get("features") or {}
            if not isinstance(feats, dict):
                raise InvalidEvent(
                    "wrong_type", f"{profiles_file.name}:{n}: 'features' must be a map"
                )
            profiles.append(UserProfile(raw["user"], feats))
    events.sort(key=lambda e: e.ts)
    return Dataset(p.stem, events, tuple(items), tuple(profiles))

"""Catalog records: the typed form of one message of the items topic."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from homerec.errors import InvalidEvent, InvalidItem
from homerec.events import check_id, check_ts
from homerec.limits import Limits
from homerec.typing import ItemId

__all__ = ["Item"]

_KNOWN = frozenset(("item", "title", "tags", "active", "ts", "author"))


@dataclass(frozen=True, slots=True)
class Item:
    """One catalog entry. Inactive items are never recommended. ``author``: the creator,
    brand or channel (optional; a content feature, as a tag that the page's tag cap
    does not count).

    >>> Item.from_dict({"item": "m1", "title": "Heat", "tags": ["crime"], "active": True,
    ...                 "ts": 1700000000000, "author": "Michael Mann"})
    Item(item='m1', title='Heat', tags=('crime',), active=True, ts=1700000000000, author='Michael Mann')
    """

    item: ItemId
    title: str = ""
    tags: tuple[str, ...] = ()
    active: bool = True
    ts: int = 0
    author: str = ""

    @classmethod
    def from_dict(cls, raw: object, limits: Limits | None = None) -> Item:
        """Validate a decoded catalog value; raise :class:`InvalidItem` with a reason code."""
        lim = limits or Limits()
        try:
            return cls._parse(raw, lim)
        except InvalidItem:
            raise
        except InvalidEvent as exc:
            raise InvalidItem(exc.reason, exc.detail) from None

    @classmethod
    def _parse(cls, raw: object, lim: Limits) -> Item:
        if not isinstance(raw, Mapping):
            raise InvalidItem("not_a_map", f"item must be a map, got {type(raw).__name__}")
        if "item" not in raw:
            raise InvalidItem("missing_field", "'item' is required")
        unknown = [k for k in raw if k not in _KNOWN]
        if unknown:
            raise InvalidItem("unknown_field", f"unknown field(s) {sorted(map(str, unknown))}")
        item = check_id(raw["item"], "item", lim)
        title = raw.get("title", "")
        if not isinstance(title, str):
            raise InvalidItem("wrong_type", "'title' must be a string")
        if len(title) > lim.max_title_length:
            raise InvalidItem("oversize", f"'title' longer than {lim.max_title_length}")
        tags = raw.get("tags", ())
        if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
            raise InvalidItem("wrong_type", "'tags' must be a list of strings")
        if len(tags) > lim.max_tags or any(len(t) > lim.max_tag_length for t in tags):
            raise InvalidItem(
                "oversize", f"at most {lim.max_tags} tags of {lim.max_tag_length} chars"
            )
        active = raw.get("active", True)
        if not isinstance(active, bool):
            raise InvalidItem("wrong_type", "'active' must be a boolean")
        ts = check_ts(raw["ts"], lim) if "ts" in raw else 0
        author = raw.get("author", "")
        if not isinstance(author, str):
            raise InvalidItem("wrong_type", "'author' must be a string")
        if len(author) > lim.max_tag_length:
            raise InvalidItem("oversize", f"'author' longer than {lim.max_tag_length}")
        return cls(item, title, tuple(tags), active, ts, author)

    def to_dict(self) -> dict[str, Any]:
        """The wire form; inverse of :meth:`from_dict`."""
        out: dict[str, Any] = {
            "item": self.item,
            "title": self.title,
            "tags": list(self.tags),
            "active": self.active,
        }
        if self.ts:
            out["ts"] = self.ts  # 0 means "unknown" and is left out
        if self.author:
            out["author"] = self.author  # "" means "none" and is left out
        return out

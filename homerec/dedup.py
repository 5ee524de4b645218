"""A bounded window of recently seen event ids, for producer-retry idempotence."""

from __future__ import annotations

from collections import OrderedDict

from homerec.errors import ConfigError

__all__ = ["IdWindow"]


class IdWindow:
    """Remembers the last ``size`` ids; ``seen(id)`` is True for a repeat within the window.

    >>> w = IdWindow(2)
    >>> w.seen("a"), w.seen("b"), w.seen("a"), w.seen("c"), w.seen("b"), w.seen("a")
    (False, False, True, False, False, False)
    >>> "a" in w, "z" in w
    (True, False)
    """

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ConfigError("dedup window size must be >= 0")
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def seen(self, key: str) -> bool:
        """Record ``key``; return whether it was already in the window."""
        if self.size == 0:
            return False
        if key in self._ids:
            self._ids.move_to_end(key)
            return True
        self._ids[key] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return False

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is in the window (does not record it)."""
        return key in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def forget_prefixes(self, prefixes: tuple[str, ...]) -> int:
        """Drop every id that starts with one of ``prefixes`` (a forgotten user's
        ``user\\0`` keys); returns how many went. One pass over the window.

        >>> w = IdWindow(5); w.extend(["u1\\x00a", "u2\\x00b", "u1\\x00c"])
        >>> w.forget_prefixes(("u1\\x00",)), w.to_list()
        (2, ['u2\\x00b'])
        """
        gone = [k for k in self._ids if k.startswith(prefixes)]
        for key in gone:
            del self._ids[key]
        return len(gone)

    def to_list(self) -> list[str]:
        """Ids oldest first (for checkpoints)."""
        return list(self._ids)

    def extend(self, keys: list[str]) -> None:
        """Restore ids saved by :meth:`to_list`."""
        for key in keys:
            self.seen(key)

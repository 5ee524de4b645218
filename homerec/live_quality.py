"""Online (prequential) quality of what users were actually shown.

Before a positive event is learned, was its item on the list last published
for that user? The hit rate over a sliding window is the live HR@K.
"""

from __future__ import annotations

from collections import OrderedDict, deque

from homerec.typing import ItemId, UserId

__all__ = ["LiveHitRate"]


class LiveHitRate:
    """Sliding-window HR@K over live positive events.

    ``max_users`` bounds the memory of last-published lists (least recently
    updated users are forgotten; their next positive is not a test case).

    >>> q = LiveHitRate(window=3)
    >>> q.published("u", ["a", "b"])
    >>> q.observe("u", "a"), q.observe("u", "z"), q.observe("v", "a")
    (True, False, None)
    >>> q.hit_rate
    0.5
    """

    def __init__(self, window: int = 1000, max_users: int = 200_000) -> None:
        self.window = window
        self.max_users = max_users
        self._lists: OrderedDict[UserId, frozenset[ItemId]] = OrderedDict()
        self._outcomes: deque[bool] = deque(maxlen=window)
        self._hits = 0

    def published(self, user: UserId, items: list[ItemId]) -> None:
        """Remember the list just published for ``user``."""
        self._lists[user] = frozenset(items)
        self._lists.move_to_end(user)
        if len(self._lists) > self.max_users:
            self._lists.popitem(last=False)

    def forget(self, user: UserId) -> None:
        """Drop the last list remembered for ``user`` (the hit counts are anonymous)."""
        self._lists.pop(user, None)

    def observe(self, user: UserId, item: ItemId) -> bool | None:
        """A positive event: hit, miss, or None when no list was published for the user."""
        shown = self._lists.get(user)
        if shown is None:
            return None
        hit = item in shown
        if len(self._outcomes) == self._outcomes.maxlen and self._outcomes[0]:
            self._hits -= 1
        self._outcomes.append(hit)
        self._hits += hit
        return hit

    @property
    def hit_rate(self) -> float:
        """Hits / cases over the window (0.0 before the first case)."""
        return self._hits / len(self._outcomes) if self._outcomes else 0.0

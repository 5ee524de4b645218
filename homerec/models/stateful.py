"""Typed seams between the Kafka shell and models whose state can be saved per key.

The worker checks these with ``isinstance`` instead of probing attributes with
``getattr``: a model either implements a whole protocol or none of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from homerec.typing import ItemId, UserId

__all__ = ["Forgetful", "ItemStateful", "Sized", "UserStateful"]


@runtime_checkable
class UserStateful(Protocol):
    """A model whose per-user state moves through the changelog (one record per user)."""

    def user_state(self, user: UserId) -> dict[str, Any] | None:
        """The state of one user, msgpack-able, ``None`` if unknown."""
        ...

    def load_user_state(self, user: UserId, state: Mapping[str, Any]) -> None:
        """Install one user's state from :meth:`user_state`."""
        ...


@runtime_checkable
class ItemStateful(Protocol):
    """A model whose per-item state can be snapshotted item by item."""

    def item_state_many(self, items: Sequence[ItemId]) -> list[dict[str, Any] | None]:
        """Per-item state, ``None`` for unknown items."""
        ...

    def load_item_state(self, item: ItemId, state: Mapping[str, Any]) -> None:
        """Install one item's state from :meth:`item_state_many`."""
        ...


@runtime_checkable
class Sized(Protocol):
    """A model that reports how many users and items its state holds (for metrics)."""

    @property
    def n_users(self) -> int: ...

    @property
    def n_items(self) -> int: ...


@runtime_checkable
class Forgetful(Protocol):
    """A model that can erase a user: every per-user trace, so that its ``state_dict`` no
    longer contains the id (item-side aggregates keep the anonymous contribution)."""

    def forget_user(self, user: UserId) -> bool:
        """Erase ``user``; False if the model did not know it."""
        ...

    def forget_users(self, users: Iterable[UserId]) -> list[UserId]:
        """Erase ``users`` in one pass; returns those the model knew."""
        ...

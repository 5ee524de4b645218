"""The seam between the streaming shell and every recommender model.

The worker, ``homerec eval`` and the benchmarks talk to models only through
:class:`Recommender`, so the offline evaluation runs exactly the code that the
streaming worker runs.
"""

from __future__ import annotations

import abc
import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self

from homerec.events import Event
from homerec.items import Item
from homerec.profiles import UserProfile
from homerec.typing import ItemId, Scored, Shown, UserId

__all__ = ["Recommender"]


class Recommender(abc.ABC):
    """An online recommender: learns event by event, ranks items for users.

    Conventions (River's): hyperparameters are keyword arguments of
    ``__init__`` stored under the same attribute names; learned state lives
    in other (private) attributes; randomness comes from a ``seed`` argument.

    Candidates are the items the model has seen in events or in the catalog,
    minus inactive ones and minus those the user already interacted with.
    """

    #: Short name used by ``--model`` and in the state file.
    name: str = "base"

    # -- learning -------------------------------------------------------
    @abc.abstractmethod
    def learn_one(self, event: Event) -> None:
        """Update the model with one event (after it was possibly used as a test case)."""

    def learn_many(self, events: Iterable[Event]) -> None:
        """Update with a batch, in order. Models override this to vectorise."""
        for event in events:
            self.learn_one(event)

    def update_item(self, item: Item) -> None:  # noqa: B027 - optional hook
        """Insert or update a catalog entry (title, tags, active flag)."""

    def update_user(self, profile: UserProfile) -> None:  # noqa: B027 - optional hook
        """Insert or update a user's profile features."""

    # -- ranking --------------------------------------------------------
    @abc.abstractmethod
    def recommend_many(self, users: Sequence[UserId], k: int) -> list[list[Scored]]:
        """Top-``k`` (item, score) lists, best first, one per user, business rules applied."""

    def recommend_logged(self, users: Sequence[UserId], k: int) -> list[list[Shown]]:
        """:meth:`recommend_many` with each item's ``explore`` flag and propensity ``p`` (the
        probability that the policy put it there), as the worker publishes them. Models
        that do not explore: every item ``(item, score, False, 1.0)``."""
        return [
            [(item, score, False, 1.0) for item, score in page]
            for page in self.recommend_many(users, k)
        ]

    def recommend(self, user: UserId, k: int) -> list[Scored]:
        """Top-``k`` list for one user."""
        return self.recommend_many([user], k)[0]

    def predict_one(self, user: UserId, item: ItemId) -> float | None:
        """The rating ``user`` would give ``item``, for models that predict ratings (else None).

        ``homerec eval`` uses it for MAE/RMSE; ranking never depends on it.
        """
        return None

    @abc.abstractmethod
    def n_events(self, user: UserId) -> int:
        """How many events of ``user`` this model has applied."""

    # -- persistence ----------------------------------------------------
    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """All learned state as msgpack-able values and numpy arrays (never pickle).

        A snapshot: nothing in it may change when the model learns on (arrays are copies),
        because the worker encodes it on another thread while it goes on learning.
        """

    @abc.abstractmethod
    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Replace the learned state by one from :meth:`state_dict`."""

    def get_params(self) -> dict[str, Any]:
        """Constructor arguments, by name."""
        import inspect

        named = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        params = inspect.signature(type(self).__init__).parameters
        return {
            name: getattr(self, name)
            for name, param in params.items()
            if name != "self" and param.kind in named
        }

    def clone(self) -> Self:
        """A fresh, untrained model with the same hyperparameters."""
        return type(self)(**copy.deepcopy(self.get_params()))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

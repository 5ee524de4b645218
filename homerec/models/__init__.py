"""Online recommender models. ``make_model(name)`` builds one by its ``--model`` name.

>>> make_model("popularity").name
'popularity'
>>> sorted(MODELS)
['hybrid', 'itemknn', 'popularity', 'river-biasedmf']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from homerec.errors import ConfigError
from homerec.models.base import Recommender
from homerec.models.hybrid import Hybrid
from homerec.models.indexed import IndexedRecommender
from homerec.models.itemknn import ItemKNN
from homerec.models.popularity import Popularity
from homerec.models.river_mf import RiverBiasedMF

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "Hybrid",
    "IndexedRecommender",
    "ItemKNN",
    "Popularity",
    "Recommender",
    "RiverBiasedMF",
    "WORKER_PARAMS",
    "make_model",
]

#: ``--model`` names → model classes.
MODELS: Mapping[str, Callable[..., Recommender]] = MappingProxyType(
    {
        "hybrid": Hybrid,
        "popularity": Popularity,
        "river-biasedmf": RiverBiasedMF,
        "itemknn": ItemKNN,
    }
)

DEFAULT_MODEL = "hybrid"

#: Constructor arguments the streaming worker should add to any model: rank seen items *and*
#: active catalog items never interacted with (so brand-new items get shown), cap one
#: tag's share of a page, and explore one slot in ten (:mod:`homerec.exploration`).
#: ``homerec eval`` keeps the protocol's ``candidates="seen"`` and no exploration.
WORKER_PARAMS: Mapping[str, Any] = MappingProxyType(
    {"candidates": "catalog", "max_tag_share": 0.5, "explore": 0.1}
)


def make_model(name: str = DEFAULT_MODEL, **params: Any) -> Recommender:
    """A fresh model by name with constructor ``params`` (unknown names raise ConfigError)."""
    try:
        factory = MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; choose from {', '.join(MODELS)}") from None
    try:
        return factory(**params)
    except TypeError as exc:
        raise ConfigError(f"bad parameters for model {name!r}: {exc}") from None

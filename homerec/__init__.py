"""homerec: the recommender core (pure Python, numpy and River; no Kafka here)."""

from __future__ import annotations

from homerec.events import Event
from homerec.feedback import FeedbackWeights
from homerec.items import Item
from homerec.limits import Limits
from homerec.models.base import Recommender
from homerec.profiles import UserProfile

__all__ = [
    "Event",
    "FeedbackWeights",
    "Item",
    "Limits",
    "Recommender",
    "UserProfile",
    "__version__",
]

__version__ = "0.1.0"

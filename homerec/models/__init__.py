"""Online recommender models. ``make_model(name)`` builds one by its ``--model`` name."""

from __future__ import annotations

from homerec.models.base import Recommender

__all__ = ["Recommender"]

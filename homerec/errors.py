"""Exceptions of the recommender core: one root, one small class per area."""

from __future__ import annotations

__all__ = ["ConfigError", "HomerecError", "InvalidEvent", "InvalidItem", "StateError"]


class HomerecError(Exception):
    """Root of every error that homerec raises on purpose."""


class InvalidEvent(HomerecError):
    """An event failed validation.

    ``reason`` is a short, bounded code (used as a metric label and written to
    the dead-letter topic); ``detail`` is the human explanation.

    >>> InvalidEvent("missing_field", "'user' is required").reason
    'missing_field'
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class InvalidItem(InvalidEvent):
    """A catalog record failed validation (same reasons as events)."""


class ConfigError(HomerecError, ValueError):
    """A setting is out of range or inconsistent."""


class StateError(HomerecError):
    """Saved model state cannot be restored (wrong version, model or shape)."""

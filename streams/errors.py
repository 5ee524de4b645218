"""Errors of the Kafka shell. Wrappers keep the original Kafka error as ``cause``."""

from __future__ import annotations

from homerec.errors import HomerecError

__all__ = ["BrokerUnavailable", "DeliveryFailed", "StreamsError", "TopicMissing"]


class StreamsError(HomerecError):
    """Root of the Kafka shell's errors."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class BrokerUnavailable(StreamsError):
    """The broker could not be reached."""


class TopicMissing(StreamsError):
    """A topic the command needs does not exist (run ``homerec topics create``)."""


class DeliveryFailed(StreamsError):
    """The broker did not acknowledge a produced message; offsets were not committed."""

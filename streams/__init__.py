"""streams: the Kafka shell around :mod:`homerec` (topics, codec, worker, CLI).

It imports :mod:`homerec`; :mod:`homerec` never imports it (nor Kafka).
"""

from __future__ import annotations

from homerec import __version__

__all__ = ["__version__"]

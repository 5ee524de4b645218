"""streams: the Kafka shell around :mod:`homerec` (topics, codec, worker, CLI).

It imports :mod:`homerec`; :mod:`homerec` never imports it (nor Kafka).
"""

from __future__ import annotations

import os

# numpy's BLAS on one thread unless told otherwise; this must happen before numpy is
# first imported (homerec imports it). A worker's products are small and its loop is
# single-threaded; on a machine shared with the broker, extra BLAS threads spin for cores
# that are busy, which costs freshness (docs/performance.md). Set OPENBLAS_NUM_THREADS
# to override.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from homerec import __version__  # noqa: E402

__all__ = ["__version__"]

"""Event sources for evaluation, replay and the demo.

Each module yields :class:`homerec.Event` (in time order) and catalog
:class:`homerec.Item` records: ``movielens`` (ML-100K and ml-latest layouts),
``events_jsonl`` (homerec's own schema, one JSON object a line) and
``synthetic`` (the generator that the demo and the benchmarks use).
"""

from __future__ import annotations

__all__: list[str] = []

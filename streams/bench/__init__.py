"""``homerec bench``: throughput against the Kafka ceiling, freshness, memory at scale, scaling.

One concept per module: :mod:`~streams.bench.clients` (the worker's client
settings), :mod:`~streams.bench.workload` (world, encoded events, topics),
:mod:`~streams.bench.models` (model under test), :mod:`~streams.bench.throughput`
(how phases are clocked), :mod:`~streams.bench.passthrough` (the ceiling),
:mod:`~streams.bench.pipeline` (the real worker), :mod:`~streams.bench.freshness`,
:mod:`~streams.bench.memory`, :mod:`~streams.bench.scaling`,
:mod:`~streams.bench.ann_stage` (the hybrid's candidate stage against its exact
re-rank), :mod:`~streams.bench.rows` (result rows as JSON) and
:mod:`~streams.bench.profile` (py-spy summaries). See ``docs/performance.md``.
Benchmarks print numbers; nothing here asserts on time.
"""

from __future__ import annotations

__all__: list[str] = []

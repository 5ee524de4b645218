"""A closed-loop homepage simulator: a policy shows pages, a simulated world clicks on them.

``homerec simulate`` runs it. The modules: :mod:`~homerec.simulation.config` (the
world's and the run's settings), :mod:`~homerec.simulation.world` (tastes, items,
churn, clicks), :mod:`~homerec.simulation.policies` (models, random, oracle),
:mod:`~homerec.simulation.metrics` (the counters), :mod:`~homerec.simulation.report`
(the figures), :mod:`~homerec.simulation.loop` (the run), :mod:`~homerec.simulation.plot`.
"""

from __future__ import annotations

from homerec.simulation.config import SimulationConfig
from homerec.simulation.loop import REFERENCE_POLICIES, compare, simulate
from homerec.simulation.policies import POLICIES, make_policy
from homerec.simulation.report import SimulationReport
from homerec.simulation.world import World

__all__ = [
    "POLICIES", "REFERENCE_POLICIES", "SimulationConfig", "SimulationReport", "World",
    "compare", "make_policy", "simulate",
]  # fmt: skip

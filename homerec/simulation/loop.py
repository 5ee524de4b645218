"""The closed loop: the policy ranks pages, the world reacts, the policy learns, in batches.

A run plays ``n_sessions`` sessions in batches of ``batch`` (cut at catalog changes
and at the ends of the time series' windows). Before a batch, catalog changes are
sent to the policy (``update_item``); then the policy ranks one page for every user
of the batch at once, as the worker re-ranks the users a batch touched (a user
visiting twice in a batch sees the same page); the world plays the sessions; the
policy learns their events (``learn_many``, in order). Profiles and the initial
catalog are given to the policy before the first session.

>>> from homerec.simulation.config import SimulationConfig
>>> cfg = SimulationConfig(n_users=60, n_items=80, n_sessions=400, batch=20, churn_every=100,
...                        windows=4)
>>> report = simulate("oracle", cfg)
>>> report.sessions, report.pages, report.inactive_shown, report.new_items, len(report.windows)
(400, 400, 0, 60, 4)
>>> report.ctr == simulate("oracle", cfg).ctr  # deterministic per seed
True
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from homerec.hiding import HidingRules
from homerec.simulation.config import SimulationConfig
from homerec.simulation.metrics import Tally, censored_quantile
from homerec.simulation.policies import Policy, make_policy
from homerec.simulation.report import SimulationReport
from homerec.simulation.world import World

__all__ = ["REFERENCE_POLICIES", "compare", "simulate"]

#: The policies a run is compared with by default.
REFERENCE_POLICIES: tuple[str, ...] = ("popularity", "random", "oracle")


def simulate(
    policy: str,
    config: SimulationConfig | None = None,
    *,
    progress: bool = False,
    make: Callable[[str, World], Policy] | None = None,
    hiding: HidingRules | None = None,
) -> SimulationReport:
    """Run ``policy`` (a :data:`~homerec.simulation.policies.POLICIES` name) in the world
    of ``config``; ``make`` builds the policy instead of :func:`make_policy`; ``hiding``:
    a model's hiding rules (default: each item hidden for good once the user acted on it)."""
    cfg = config or SimulationConfig()
    t0 = time.perf_counter()
    world = World(cfg)
    pol = make(policy, world) if make else make_policy(policy, world, seed=cfg.seed, hiding=hiding)
    tally = Tally(cfg.n_sessions, world.n_total, cfg.k)
    for item in world.catalog():
        pol.update_item(item)
    tally.add_items(np.arange(cfg.n_items), 0)
    for profile in world.profiles():
        pol.update_user(profile)
    steps = {step[0]: step for step in world.steps}
    width = math.ceil(cfg.n_sessions / cfg.windows)
    ends = sorted({*range(width, cfg.n_sessions, width), cfg.n_sessions})
    cuts = sorted({*steps, *ends})
    counts: Counter[str] = Counter()
    organic = 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.n_sessions, file=sys.stderr, unit="session", desc=policy,
                   mininterval=0.5, leave=False)  # fmt: skip
    s, c = 0, 0
    while s < cfg.n_sessions:
        if s in steps:
            retired, added = world.churn(steps[s])
            for i in (*retired.tolist(), *added.tolist()):
                pol.update_item(world.item_record(i, s))
            tally.add_items(added, s)
        while c < len(cuts) and cuts[c] <= s:
            c += 1
        end = min(s + cfg.batch, cuts[c] if c < len(cuts) else cfg.n_sessions)
        sessions = np.arange(s, end, dtype=np.int64)
        users = world.session_users[sessions]
        world.now = s
        pages = _pages(pol, world, users.tolist(), cfg.k)
        tally.record_pages(sessions, pages, world.eligible(users), world.active)
        outcome = world.play(sessions, pages)
        tally.record_clicks(sessions, outcome.clicks)
        pol.learn(outcome.events)
        counts.update(e.type for e in outcome.events)
        organic += outcome.organic
        if end in ends:
            tally.close_window(end)
        if bar is not None:
            bar.update(end - s)
        s = end
    if bar is not None:
        bar.close()
    waits = tally.new_item_waits()
    never = sum(w is None for w in waits)
    return SimulationReport(
        policy=policy,
        seed=cfg.seed,
        sessions=cfg.n_sessions,
        pages=tally.pages,
        impressions=int(tally.impressions.sum()),
        clicks=int(tally.clicks.sum()),
        ctr=tally.ctr(),
        ctr_last_quarter=tally.ctr(cfg.last_quarter_start),
        coverage=tally.coverage(),
        impression_gini=tally.impression_gini(),
        new_items=len(waits),
        new_first_median=censored_quantile(waits, 0.5),
        new_first_p90=censored_quantile(waits, 0.9),
        new_never_shown=never / len(waits) if waits else 0.0,
        short_pages=tally.short_pages,
        inactive_shown=tally.inactive_shown,
        events=dict(sorted(counts.items())),
        organic_events=organic,
        seconds=time.perf_counter() - t0,
        windows=tuple(tally.windows),
        config=cfg.as_dict(),
    )


def _pages(pol: Policy, world: World, users: list[int], k: int) -> list[list[int]]:
    """One page per session (item indices): one ranking per distinct user of the batch."""
    distinct = list(dict.fromkeys(users))
    ranked = pol.recommend([world.user_ids[u] for u in distinct], k)
    index = world.item_index
    by_user = {u: [index[i] for i in page] for u, page in zip(distinct, ranked, strict=True)}
    return [by_user[u] for u in users]


def compare(
    policy: str,
    config: SimulationConfig | None = None,
    *,
    baselines: Sequence[str] = REFERENCE_POLICIES,
    progress: bool = False,
    hiding: HidingRules | None = None,
) -> tuple[SimulationReport, dict[str, SimulationReport]]:
    """Run ``policy`` and each of ``baselines`` (other than itself) on the same world and
    seed: the policy's report with its CTR ratios, and the baselines' reports. ``hiding``
    applies to the policy and to the baseline models alike."""
    cfg = config or SimulationConfig()
    main = simulate(policy, cfg, progress=progress, hiding=hiding)

    def reference(name: str, world: World) -> Policy:
        # the baselines do not explore: the yardsticks stay the plain models (with the
        # same business rules)
        return make_policy(name, world, seed=cfg.seed, explore=0.0, hiding=hiding)

    others = {
        name: simulate(name, cfg, progress=progress, make=reference)
        for name in baselines
        if name != policy
    }
    return main.with_baselines(others), others

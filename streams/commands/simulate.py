"""``homerec simulate``: a closed-loop homepage simulation of a policy and the reference ones.

Builds a simulated world (users with drifting tastes, 1,000 items growing by 20 and
losing 15 every 2,000 sessions, position-biased clicks, skips, shares, ratings,
organic events from search), lets the policy show every session's top K and learn
the resulting events in batches, and prints CTR overall and in the last quarter,
CTR relative to popularity, random and an oracle that knows the true tastes,
catalog coverage, impression Gini, new items' sessions to first impression, short
pages and inactive items shown; ``--json`` ends stdout with one JSON object;
``--plot`` draws the metrics along the run. See docs/simulation.md.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from homerec.hiding import DEFAULT_PRESET, HidingRules
from homerec.simulation import (
    POLICIES,
    REFERENCE_POLICIES,
    SimulationConfig,
    SimulationReport,
    compare,
)
from streams.commands.arguments import hiding_help, hiding_rules

__all__ = ["format_table", "register"]


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "simulate",
        help="closed-loop homepage simulation: CTR vs popularity/random/oracle, exposure",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    d = SimulationConfig()
    parser.add_argument(
        "--policy",
        default="hybrid",
        choices=POLICIES,
        help="the policy under test: a model or random/oracle (default hybrid)",
    )
    parser.add_argument("--baselines", action=argparse.BooleanOptionalAction, default=True,
                        help=f"also run {', '.join(REFERENCE_POLICIES)} on the same world "
                             "(default on)")  # fmt: skip
    parser.add_argument(
        "--users", type=int, default=d.n_users, help=f"users (default {d.n_users:,})"
    )
    parser.add_argument(
        "--items", type=int, default=d.n_items, help=f"items at the start (default {d.n_items:,})"
    )
    parser.add_argument(
        "--sessions",
        type=int,
        default=d.n_sessions,
        help=f"sessions to play (default {d.n_sessions:,})",
    )
    parser.add_argument("--seed", type=int, default=d.seed, help="world seed (default 0)")
    parser.add_argument("--k", type=int, default=d.k, help=f"items per page (default {d.k})")
    parser.add_argument(
        "--batch",
        type=int,
        default=d.batch,
        help=f"sessions between learning steps (default {d.batch})",
    )
    parser.add_argument(
        "--impressions",
        action="store_true",
        help="the world's front end reports what it showed: an impression event per examined "
        "position (off by default)",
    )
    parser.add_argument(
        "--hiding",
        type=hiding_rules,
        default=HidingRules(),
        metavar="PRESET[,TYPE=forever|N...]",
        help=hiding_help(DEFAULT_PRESET) + "; the popularity baseline follows the same rules. "
        "The simulated users never act on an item again once they clicked or skipped it",
    )
    parser.add_argument("--json", action="store_true", help="end stdout with one JSON object")
    parser.add_argument("--plot", metavar="FILE.png", help="write the metrics along the run (PNG)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.set_defaults(func=_run)


def _wait(r: SimulationReport, value: float | None) -> str:
    if not r.new_items:
        return "-"
    return "never" if value is None else f"{value:.0f}"


def format_table(reports: list[SimulationReport]) -> str:
    """One line per run: CTR, exposure and page faults, aligned."""
    head = (
        f"{'policy':<15}{'CTR':>8}{'CTR lastQ':>10}{'coverage':>9}{'Gini':>6}"
        f"{'new: median':>12}{'p90':>7}{'never':>7}{'short pages':>12}{'inactive':>9}{'s':>7}"
    )
    lines = [head]
    for r in reports:
        lines.append(
            f"{r.policy:<15}{r.ctr:>8.4f}{r.ctr_last_quarter:>10.4f}{r.coverage:>9.3f}"
            f"{r.impression_gini:>6.2f}{_wait(r, r.new_first_median):>12}"
            f"{_wait(r, r.new_first_p90):>7}{r.new_never_shown:>7.1%}{r.short_page_share:>12.2%}{r.inactive_shown:>9}"
            f"{r.seconds:>7.1f}"
        )
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    config = SimulationConfig(
        n_users=args.users, n_items=args.items, n_sessions=args.sessions, seed=args.seed,
        k=args.k, batch=args.batch, impressions=args.impressions,
    )  # fmt: skip
    baselines = REFERENCE_POLICIES if args.baselines else ()
    if args.plot:
        from homerec.simulation.plot import plot_reports, pyplot

        pyplot()  # no matplotlib: fail before simulating, not after

    main, others = compare(
        args.policy, config, baselines=baselines, progress=not args.no_progress,
        hiding=args.hiding,
    )  # fmt: skip
    reports = [main, *others.values()]
    print(f"{args.sessions:,} sessions, {args.users:,} users, {args.items:,} items, "
          f"k={args.k}, batch={args.batch}, seed={args.seed}, hiding {args.hiding.spec()}")  # fmt: skip
    print(format_table(reports))
    if main.relative_last_quarter:
        ratios = ", ".join(f"{v:.2f} x {n}" for n, v in main.relative_last_quarter.items())
        print(f"{main.policy} last-quarter CTR: {ratios}")
    if args.plot:
        plot_reports(reports, args.plot,
                     title=f"{main.policy}: closed loop, seed {args.seed}")  # fmt: skip
        print(f"plot written to {args.plot}")
    if args.json:
        out = main.as_dict()
        out["baselines"] = {n: r.as_dict() for n, r in others.items()}
        out["hiding"] = args.hiding.spec()
        print(json.dumps(out, sort_keys=True))
    return 0

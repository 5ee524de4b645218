"""``homerec eval``: offline evaluation of a model, through the worker's own model calls.

Replays a recorded stream (MovieLens or homerec's JSON-lines events) in time
order. --protocol prequential (default): before learning each positive event
whose item appeared earlier, asks the model for the user's top-K exactly as the
worker does, then learns the event; prints HR@K, NDCG@K, cold-start hit rates,
coverage, MAE/RMSE (models that predict ratings) and throughput. --protocol
split: learns the first --train-share of the events, then asks once for the
top-K of every user first seen after that point (cold) and of every earlier
user (warm) with a positive later on; prints HR@K, NDCG@K and coverage for
both groups. ``--json`` ends stdout with one JSON object; ``--plot``
(prequential) also runs the baselines and draws HR@K along the stream.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from homerec.datasets.base import Dataset
from homerec.datasets.loaders import FORMATS, load_dataset
from homerec.datasets.movielens import WHERE
from homerec.errors import ConfigError
from homerec.evaluation.prequential import EvalResult, evaluate
from homerec.evaluation.sharded import DEFAULT_EXCHANGE_LAG, ShardedModel
from homerec.evaluation.split import SplitGroup, SplitResult, evaluate_split
from homerec.hiding import DEFAULT_PRESET, HidingRules
from homerec.models import DEFAULT_MODEL, MODELS, make_model
from streams.commands.arguments import finite_float, hiding_help, hiding_rules, positive_int

__all__ = ["BASELINES", "PROTOCOLS", "register"]

#: Models that ``--plot`` (and ``--baselines``) run next to the chosen one.
BASELINES: tuple[str, ...] = ("popularity", "river-biasedmf", "itemknn")

#: ``--protocol`` choices; the first is the default.
PROTOCOLS: tuple[str, ...] = ("prequential", "split")


def _open_share(text: str) -> float:
    """A fraction in (0, 1), both ends excluded (``--train-share``)."""
    value = finite_float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1), got {text}")
    return value


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "eval",
        help="offline evaluation (HR@K, NDCG@K, cold start) on a recorded stream, "
        "prequential or on a temporal split",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
        epilog=f"Data: homerec ships none. {WHERE}, e.g. "
        "'homerec eval --data ml-100k --format ml-100k'. --format events-jsonl reads "
        "homerec's own event schema (README 'The contract').",
    )
    parser.add_argument(
        "--data",
        required=True,
        metavar="PATH",
        help="dataset directory (ml-100k: u.data, u.item, u.user; movielens-csv: ratings.csv, "
        "movies.csv), or the file for events-jsonl",
    )
    parser.add_argument(
        "--format",
        default="ml-100k",
        choices=sorted(FORMATS),
        help="dataset layout (default ml-100k)",
    )
    parser.add_argument(
        "--protocol",
        default=PROTOCOLS[0],
        choices=PROTOCOLS,
        help="prequential: test-then-learn every positive event (default); "
        "split: learn the first --train-share of the stream, then one top-K "
        "list per cold and warm user (docs/quality.md)",
    )
    parser.add_argument(
        "--train-share",
        type=_open_share,
        default=0.8,
        metavar="SHARE",
        help="split: share of the events (in time order) learned before the "
        "lists are asked for (default 0.8)",
    )
    parser.add_argument(
        "--no-profiles",
        action="store_true",
        help="do not give the model the user profiles (demographics)",
    )
    parser.add_argument("--k", type=positive_int, default=10, help="list length K (default 10)")
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        choices=sorted(MODELS),
        help=f"model to evaluate (default {DEFAULT_MODEL})",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="model constructor argument (repeatable), e.g. --param n_factors=16",
    )
    parser.add_argument(
        "--hiding",
        type=hiding_rules,
        default=HidingRules(),
        metavar="PRESET[,TYPE=forever|N...]",
        help=hiding_help(DEFAULT_PRESET) + "; the baselines follow the same rules",
    )
    parser.add_argument(
        "--max-events", type=positive_int, default=None, metavar="N", help="stop after N events"
    )
    parser.add_argument(
        "--baselines",
        action="store_true",
        help="also evaluate the baselines (always on with --plot): " + ", ".join(BASELINES),
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="prequential: split the users over N members as N partitions would "
        "(murmur2 of the user id), each its own model, exchanging item-side "
        "deltas (default 1: one model)",
    )
    parser.add_argument(
        "--exchange-lag",
        type=positive_int,
        default=DEFAULT_EXCHANGE_LAG,
        metavar="EVENTS",
        help=f"--workers: events between exchanges of item deltas (default {DEFAULT_EXCHANGE_LAG})",
    )
    parser.add_argument(
        "--no-share",
        action="store_true",
        help="--workers: members do not exchange item deltas (each learns the item "
        "side from its own users only)",
    )
    parser.add_argument("--json", action="store_true", help="end stdout with one JSON object")
    parser.add_argument(
        "--plot", metavar="FILE.png", help="prequential: write HR@K along the stream (PNG)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.set_defaults(func=_run)


def _parse_params(specs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for spec in specs:
        name, sep, raw = spec.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"bad --param {spec!r}: use NAME=VALUE")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        params[name.strip()] = value
    return params


def _line(r: EvalResult) -> str:
    rating = "" if r.mae is None else f"  MAE {r.mae:.4f}  RMSE {r.rmse:.4f}"
    return (
        f"{r.model:<15} HR@{r.k} {r.hr:.4f}  NDCG@{r.k} {r.ndcg:.4f}  "
        f"cold-user HR {r.cold_user_hr:.4f}  cold-item HR {r.cold_item_hr:.4f}  "
        f"coverage {r.coverage:.3f}{rating}  {r.events} events in {r.seconds:.1f}s "
        f"({r.events_per_s:,.0f} ev/s)"
    )


def _group_line(group: ShardedModel) -> str:
    if not group.share:
        return f"{group.workers} workers, users split by murmur2, item side not shared"
    st = group.stats
    return (
        f"{group.workers} workers, item deltas every {group.exchange_lag} events: "
        f"{st.deltas} deltas, {st.bytes_per_delta / 1024:.1f} KiB per delta "
        f"(largest {st.largest / 1024:.1f} KiB), {st.bytes_per_event:.0f} bytes per event"
    )


def _exchange_summary(group: ShardedModel) -> dict[str, Any]:
    st = group.stats
    return {
        "deltas": st.deltas,
        "bytes": st.bytes,
        "bytes_per_delta": round(st.bytes_per_delta, 1),
        "largest_delta": st.largest,
        "bytes_per_event": round(st.bytes_per_event, 1),
    }


def _split_line(r: SplitResult) -> str:
    def group(name: str, g: SplitGroup) -> str:
        return (
            f"{name} users {g.users:>4}: HR@{r.k} {g.hr:.4f}  NDCG@{r.k} {g.ndcg:.4f}  "
            f"coverage {g.coverage:.3f}"
        )

    return (
        f"{r.model:<15} {group('cold', r.cold)} | {group('warm', r.warm)}  "
        f"({r.train_events} events learned, {r.profiles} profiles, "
        f"{r.seconds:.1f}s)"
    )


def _run(args: argparse.Namespace) -> int:
    if args.k <= 0:
        raise ConfigError("--k must be positive")
    if args.plot and args.protocol != "prequential":
        raise ConfigError(
            "--plot draws the prequential protocol's curve; use --baselines for the other protocols"
        )
    dataset = load_dataset(args.data, args.format)
    if args.no_profiles:
        dataset = dataclasses.replace(dataset, profiles=())
    params = {**_parse_params(args.param), "hiding": args.hiding}
    if args.protocol == "split":
        if args.workers > 1:
            raise ConfigError("--workers runs the prequential protocol only")
        return _run_split(args, dataset, params)
    progress = not args.no_progress
    group: ShardedModel | None = None
    main: Any
    if args.workers > 1:
        group = ShardedModel(
            lambda: make_model(args.model, **params), args.workers,
            exchange_lag=args.exchange_lag, share=not args.no_share,
        )  # fmt: skip
        main = group
    else:
        main = make_model(args.model, **params)
    result = evaluate(main, dataset, args.k, progress=progress, max_events=args.max_events)
    print(_line(result), flush=True)
    if group is not None:
        print(_group_line(group), flush=True)
    others: list[EvalResult] = []
    if args.plot or args.baselines:
        for name in BASELINES:
            if name == args.model:
                continue
            other = evaluate(
                make_model(name, hiding=args.hiding),
                dataset,
                args.k,
                progress=progress,
                max_events=args.max_events,
            )
            others.append(other)
            print(_line(other), flush=True)
    if args.plot:
        from homerec.evaluation.plot import plot_curves

        plot_curves(
            [result, *others],
            args.plot,
            title=f"{dataset.name}: prequential HR@{args.k} along the stream",
        )
        print(f"plot written to {args.plot}", flush=True)
    if args.json:
        summary = result.as_dict()
        summary["protocol"] = "prequential"
        summary["hiding"] = args.hiding.spec()
        summary["dataset"] = dataset.name
        summary["workers"] = args.workers
        summary["exchange_lag"] = args.exchange_lag if args.workers > 1 else None
        summary["shared"] = group.share if group is not None else None
        if group is not None and group.share:
            summary["exchange"] = _exchange_summary(group)
        if others:
            summary["baselines"] = {o.model: o.as_dict() for o in others}
        print(json.dumps(summary, sort_keys=True))
    return 0


def _run_split(args: argparse.Namespace, dataset: Dataset, params: dict[str, Any]) -> int:
    names = [args.model]
    if args.baselines:
        names += [name for name in BASELINES if name != args.model]
    results: list[SplitResult] = []
    for n, name in enumerate(names):
        model = make_model(name, **params) if n == 0 else make_model(name, hiding=args.hiding)
        result = evaluate_split(
            model, dataset, args.k, train_share=args.train_share,
            profiles=not args.no_profiles, progress=not args.no_progress,
            max_events=args.max_events,
        )  # fmt: skip
        results.append(result)
        print(_split_line(result), flush=True)
    if args.json:
        summary = results[0].as_dict()
        summary["dataset"] = dataset.name
        if len(results) > 1:
            summary["baselines"] = {r.model: r.as_dict() for r in results[1:]}
        print(json.dumps(summary, sort_keys=True))
    return 0

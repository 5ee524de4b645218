"""``homerec eval``: prequential evaluation of a model, through the worker's own model calls.

Replays a recorded stream (MovieLens or homerec's JSON-lines events) in time
order; before learning each positive event whose item appeared earlier, asks
the model for the user's top-K exactly as the worker does, then learns the
event. Prints HR@K, NDCG@K, cold-start hit rates, coverage, MAE/RMSE (models
that predict ratings) and throughput; ``--json`` ends stdout with one JSON
object; ``--plot`` also runs the baselines and draws HR@K along the stream.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from homerec.datasets.loaders import FORMATS, load_dataset
from homerec.datasets.movielens import WHERE
from homerec.errors import ConfigError
from homerec.evaluation.prequential import EvalResult, evaluate
from homerec.models import DEFAULT_MODEL, MODELS, make_model
from streams.commands.arguments import positive_int

__all__ = ["BASELINES", "register"]

#: Models that ``--plot`` (and ``--baselines``) run next to the chosen one.
BASELINES: tuple[str, ...] = ("popularity", "river-biasedmf", "itemknn")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "eval",
        help="prequential evaluation (HR@K, NDCG@K, cold start) on a recorded stream",
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
    parser.add_argument("--format", default="ml-100k", choices=sorted(FORMATS),
                        help="dataset layout (default ml-100k)")
    parser.add_argument("--k", type=positive_int, default=10, help="list length K (default 10)")
    parser.add_argument("--model", default=DEFAULT_MODEL, choices=sorted(MODELS),
                        help=f"model to evaluate (default {DEFAULT_MODEL})")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="model constructor argument (repeatable), e.g. --param n_factors=16")
    parser.add_argument("--max-events", type=positive_int, default=None, metavar="N",
                        help="stop after N events")
    parser.add_argument("--baselines", action="store_true",
                        help="also evaluate the baselines (always on with --plot)")
    parser.add_argument("--json", action="store_true", help="end stdout with one JSON object")
    parser.add_argument("--plot", metavar="FILE.png", help="write HR@K along the stream (PNG)")
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


def _run(args: argparse.Namespace) -> int:
    if args.k <= 0:
        raise ConfigError("--k must be positive")
    dataset = load_dataset(args.data, args.format)
    progress = not args.no_progress
    main = make_model(args.model, **_parse_params(args.param))
    result = evaluate(main, dataset, args.k, progress=progress, max_events=args.max_events)
    print(_line(result), flush=True)
    others: list[EvalResult] = []
    if args.plot or args.baselines:
        for name in BASELINES:
            if name == args.model:
                continue
            other = evaluate(make_model(name), dataset, args.k, progress=progress,
                             max_events=args.max_events)
            others.append(other)
            print(_line(other), flush=True)
    if args.plot:
        from homerec.evaluation.plot import plot_curves

        plot_curves([result, *others], args.plot,
                    title=f"{dataset.name}: prequential HR@{args.k} along the stream")
        print(f"plot written to {args.plot}", flush=True)
    if args.json:
        summary = result.as_dict()
        summary["dataset"] = dataset.name
        if others:
            summary["baselines"] = {o.model: o.as_dict() for o in others}
        print(json.dumps(summary, sort_keys=True))
    return 0

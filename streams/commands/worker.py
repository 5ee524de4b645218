"""``homerec worker``: run one member of the worker consumer group until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType
from typing import Any, get_args

from homerec.errors import ConfigError
from homerec.feedback import FeedbackWeights
from homerec.hiding import DEFAULT_PRESET
from homerec.limits import Limits
from homerec.models import DEFAULT_MODEL, MODELS, WORKER_PARAMS
from homerec.profiles import ProfileSchema
from streams import logs
from streams.commands.arguments import (
    explore_share,
    finite_float,
    hiding_help,
    hiding_rules,
    non_negative_float,
    non_negative_int,
    port,
    positive_float,
    positive_int,
    share,
)
from streams.config import add_connection_arguments, settings_from_args
from streams.topics import check_broker
from streams.worker import Guarantee, Worker, WorkerConfig

__all__ = ["register"]

log = logging.getLogger("homerec.worker")

#: The event types whose weight ``--feedback`` sets (a rating's is scaled from its value).
_FEEDBACK_TYPES = ("view", "click", "share", "skip")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "worker",
        help="consume events, learn online, publish refreshed homepages",
        description=(
            "Join the consumer group <prefix>.worker, learn from <prefix>.events, and publish "
            "each touched user's top-K list to <prefix>.recommendations. Malformed messages go "
            "to <prefix>.events.dlq. Stops cleanly on SIGTERM or SIGINT: the current batch is "
            "finished and committed."
        ),
    )
    config, limits, model_params = WorkerConfig(), Limits(), WORKER_PARAMS
    parser.add_argument(
        "--k",
        type=positive_int,
        default=config.k,
        help=f"length of each list (default {config.k})",
    )
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        choices=sorted(MODELS),
        help=f"model name (see 'homerec eval --help'; default {DEFAULT_MODEL})",
    )
    parser.add_argument(
        "--max-batch",
        type=positive_int,
        default=config.max_batch,
        help=f"most events per batch (default {config.max_batch})",
    )
    parser.add_argument(
        "--candidates",
        choices=("catalog", "seen"),
        default=model_params["candidates"],
        help="what may be recommended: 'catalog' = every active catalog item plus items seen "
        "in events (new items can be shown at once); 'seen' = only items seen in events "
        f"(default {model_params['candidates']})",
    )
    parser.add_argument(
        "--max-tag-share",
        type=share,
        default=model_params["max_tag_share"],
        help="most of a page that one tag (genre, section) may take, in (0, 1]; 1 = no cap "
        f"(default {model_params['max_tag_share']:g})",
    )
    parser.add_argument(
        "--explore",
        type=explore_share,
        default=model_params["explore"],
        help="share of every page's slots filled by exploration (items the model knows "
        "least about, brand-new ones first; each published item says whether it was "
        f"explored and with what probability), in [0, 1); 0 = off (default {model_params['explore']:g})",
    )
    parser.add_argument(
        "--hiding",
        type=hiding_rules,
        default=config.hiding,
        metavar="PRESET[,TYPE=forever|N...]",
        help=hiding_help(DEFAULT_PRESET),
    )
    parser.add_argument(
        "--ann-candidates",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="hybrid only, needs hnswlib (pip install 'homerec[ann]'): score exactly only the "
        "N items an approximate index proposes per user, plus the items its co-occurrence "
        "reaches; for catalogs of ~50,000 items and more (docs/performance.md). The index is "
        "rebuilt in the background every 20,000 events (new catalog items join it at once); "
        "until the first one is built, every item is scored. 0 = score every item (default)",
    )
    parser.add_argument(
        "--processing-guarantee",
        choices=get_args(Guarantee),
        default=config.processing_guarantee,
        help="exactly-once commits lists, state, DLQ writes and offsets in one Kafka "
        f"transaction (default {config.processing_guarantee}; see README 'Guarantees')",
    )
    parser.add_argument(
        "--metrics-port",
        type=port,
        default=9400,
        help="serve /metrics, /healthz and /readyz on this port; 0 = off (default 9400)",
    )
    parser.add_argument(
        "--feedback",
        default="",
        metavar="TYPE=W,...",
        help="override feedback weights (default "
        + ",".join(f"{t}={getattr(FeedbackWeights(), t):g}" for t in _FEEDBACK_TYPES)
        + "; a rating's weight is its value scaled to [-1, 1])",
    )
    parser.add_argument(
        "--max-id-length",
        type=positive_int,
        default=limits.max_id_length,
        help=f"bytes (default {limits.max_id_length})",
    )
    parser.add_argument(
        "--max-message-bytes",
        type=positive_int,
        default=limits.max_message_bytes,
        help=f"largest accepted event, key + value (default {limits.max_message_bytes})",
    )
    parser.add_argument(
        "--rating-min",
        type=finite_float,
        default=limits.rating_min,
        help=f"lowest rating (default {limits.rating_min:g})",
    )
    parser.add_argument(
        "--rating-max",
        type=finite_float,
        default=limits.rating_max,
        help=f"highest rating (default {limits.rating_max:g})",
    )
    parser.add_argument(
        "--dedup-window",
        type=non_negative_int,
        default=config.dedup_window,
        help="remember this many event ids to drop producer retries "
        f"(default {config.dedup_window}; 0 = off)",
    )
    schema = config.profile_schema
    parser.add_argument(
        "--profile-fields",
        default=",".join(schema.fields),
        metavar="F1,F2,...",
        help="profile fields that form the demographic groups, in slot order "
        f"(default {','.join(schema.fields)}; of age, gender, location, occupation)",
    )
    parser.add_argument(
        "--age-buckets",
        default=",".join(map(str, schema.age_edges)),
        metavar="EDGES",
        help=f"age bucket edges (default {','.join(map(str, schema.age_edges))})",
    )
    parser.add_argument(
        "--no-profile-attrs",
        action="store_true",
        help="profiles' attrs entries do not form groups (by default each one does)",
    )
    parser.add_argument(
        "--no-changelog",
        action="store_true",
        help="do not write or restore per-user state (restarts start cold)",
    )
    parser.add_argument(
        "--sync-delivery",
        action="store_true",
        help="at-least-once: wait for each batch's acknowledgements and offset commit before "
        "the next poll (by default they are checked once the next batch is sent, which takes "
        "two broker round trips out of every batch's latency)",
    )
    parser.add_argument(
        "--item-state-interval",
        type=non_negative_float,
        default=config.item_state_every_s,
        metavar="SECONDS",
        help="with --checkpoint-interval 0 only: snapshot the items that changed to "
        "<prefix>.item-state this often, restored with the users' changelog records "
        "(approximate: shared state such as co-occurrence is not in them; "
        f"default {config.item_state_every_s:g})",
    )
    parser.add_argument(
        "--checkpoint-interval",
        type=non_negative_float,
        default=config.checkpoint_every_s,
        metavar="SECONDS",
        help="write the whole model with the offsets it covers to <prefix>.item-state this "
        "often (or 20 times the last snapshot's duration, if longer: a big model is "
        "written less often; sending happens off the loop); a restarted worker loads it "
        "and replays the events since, so its state is exact "
        f"(default {config.checkpoint_every_s:g}; 0 = never)",
    )
    parser.add_argument(
        "--max-replay",
        type=non_negative_int,
        default=config.max_replay,
        metavar="EVENTS",
        help="replay at most this many events on a restore; partitions beyond it restore "
        "users from the changelog instead, item-side learning since the checkpoint is then "
        f"lost (default {config.max_replay})",
    )
    parser.add_argument(
        "--no-share-items",
        action="store_true",
        help="learn the item side (embeddings, co-occurrence, popularity, demographic counts, "
        "the ranker) only from this worker's own users; by default, when the model supports "
        "it, each batch's item-side changes are published to <prefix>.item-updates and the "
        "other members' are applied, so the group learns the item side from all users",
    )
    parser.add_argument(
        "--instance-id",
        default=config.instance_id,
        help="stable worker identity (transactional id suffix; default: random)",
    )
    add_connection_arguments(parser)
    parser.add_argument(
        "--connect-timeout",
        type=positive_float,
        default=10.0,
        metavar="SECONDS",
        help="at start-up, give up if the broker does not answer within this time (default 10)",
    )
    logs.add_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from homerec.models import make_model

    logs.configure(args)
    settings = settings_from_args(args)
    if args.ann_candidates:
        _check_ann(args.model)
    limits = Limits(
        max_id_length=args.max_id_length,
        max_message_bytes=args.max_message_bytes,
        rating_min=args.rating_min,
        rating_max=args.rating_max,
    )
    feedback = FeedbackWeights.parse(args.feedback) if args.feedback else FeedbackWeights()
    config = WorkerConfig(
        k=args.k,
        max_batch=args.max_batch,
        processing_guarantee=args.processing_guarantee,
        limits=limits,
        feedback=feedback,
        hiding=args.hiding,
        dedup_window=args.dedup_window,
        profile_schema=ProfileSchema.parse(
            args.profile_fields, attrs=not args.no_profile_attrs, age_edges=args.age_buckets
        ),
        changelog=not args.no_changelog,
        async_commit=not args.sync_delivery,
        overlap_acks=not args.sync_delivery,
        item_state_every_s=args.item_state_interval,
        checkpoint_every_s=args.checkpoint_interval,
        max_replay=args.max_replay,
        instance_id=args.instance_id,
        share_items=not args.no_share_items,
    )
    extra: dict[str, Any] = {"ann_candidates": args.ann_candidates} if args.ann_candidates else {}
    model = make_model(
        args.model,
        feedback=feedback,
        candidates=args.candidates,
        max_tag_share=None if args.max_tag_share >= 1 else args.max_tag_share,
        explore=args.explore,
        hiding=args.hiding,
        **extra,
    )
    # one clear line instead of the client's retries when the broker is not there; once
    # the worker runs, its clients retry a broker that goes away as they should
    check_broker(settings, timeout_s=args.connect_timeout)
    server = None
    health = None
    if args.metrics_port:
        from streams.http import Health, serve

        health = Health()
        server = serve(args.metrics_port, health)
        log.info("metrics, /healthz and /readyz on port %d", server.port)
    worker = Worker(settings, model, config, health=health)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info(
            "%s received: finishing the batch, committing, leaving", signal.Signals(signum).name
        )
        worker.request_stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        worker.run()
    finally:
        if server is not None:
            server.close()
    log.info("worker stopped cleanly")
    sys.stdout.flush()
    return 0


def _check_ann(model: str) -> None:
    """``--ann-candidates`` needs the hybrid model and hnswlib: never a silent exact search."""
    from homerec.ann import hnswlib_available

    if model != "hybrid":
        raise ConfigError(f"--ann-candidates works with --model hybrid only, not {model!r}")
    if not hnswlib_available():
        raise ConfigError(
            "--ann-candidates needs hnswlib, which is not installed: "
            "pip install 'homerec[ann]' (or leave --ann-candidates at 0 to score every item)"
        )

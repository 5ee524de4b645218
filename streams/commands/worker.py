"""``homerec worker``: run one member of the worker consumer group until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType
from typing import Any

from homerec.feedback import FeedbackWeights
from homerec.limits import Limits
from streams import logs
from streams.config import add_connection_arguments, settings_from_args
from streams.worker import Worker, WorkerConfig

__all__ = ["register"]

log = logging.getLogger("homerec.worker")


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
    parser.add_argument("--k", type=int, default=10, help="length of each list (default 10)")
    parser.add_argument(
        "--model",
        default="hybrid",
        help="model name (see 'homerec eval --help'; default hybrid)",
    )
    parser.add_argument(
        "--max-batch", type=int, default=2000, help="most events per batch (default 2000)"
    )
    parser.add_argument(
        "--candidates",
        choices=("catalog", "seen"),
        default="catalog",
        help="what may be recommended: 'catalog' = every active catalog item plus items seen "
        "in events (new items can be shown at once); 'seen' = only items seen in events "
        "(default catalog)",
    )
    parser.add_argument(
        "--max-tag-share",
        type=float,
        default=0.5,
        help="most of a page that one tag (genre, section) may take, in (0, 1]; 1 = no cap "
        "(default 0.5)",
    )
    parser.add_argument(
        "--ann-candidates",
        type=int,
        default=0,
        metavar="N",
        help="hybrid only: score exactly only the N items an approximate index (hnswlib) "
        "proposes per user, plus the items its co-occurrence reaches; for catalogs of "
        "~50,000 items and more (docs/performance.md). The index is rebuilt in the "
        "background every 20,000 events (new catalog items join it at once); until the "
        "first one is built, every item is scored. 0 = score every item (default)",
    )
    parser.add_argument(
        "--processing-guarantee",
        choices=("at-least-once", "exactly-once"),
        default="at-least-once",
        help="exactly-once commits lists, state, DLQ writes and offsets in one Kafka "
        "transaction (default at-least-once; see README 'Guarantees')",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=9400,
        help="serve /metrics, /healthz and /readyz on this port; 0 = off (default 9400)",
    )
    parser.add_argument(
        "--feedback",
        default="",
        metavar="TYPE=W,...",
        help="override feedback weights, e.g. 'click=1,share=2,skip=-0.5,view=0.25'",
    )
    parser.add_argument(
        "--max-id-length", type=int, default=Limits().max_id_length, help="bytes (default 256)"
    )
    parser.add_argument(
        "--max-message-bytes",
        type=int,
        default=Limits().max_message_bytes,
        help="largest accepted event, key + value (default 65536)",
    )
    parser.add_argument("--rating-min", type=float, default=1.0, help="lowest rating (default 1)")
    parser.add_argument("--rating-max", type=float, default=5.0, help="highest rating (default 5)")
    parser.add_argument(
        "--dedup-window",
        type=int,
        default=100_000,
        help="remember this many event ids to drop producer retries (default 100000; 0 = off)",
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
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="with --checkpoint-interval 0 only: snapshot the items that changed to "
        "<prefix>.item-state this often, restored with the users' changelog records "
        "(approximate: shared state such as co-occurrence is not in them; default 5)",
    )
    parser.add_argument(
        "--checkpoint-interval",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="write the whole model with the offsets it covers to <prefix>.item-state this "
        "often (or 20 times the last snapshot's duration, if longer: a big model is "
        "written less often; sending happens off the loop); a restarted worker loads it "
        "and replays the events since, so its state is exact (default 15; 0 = never)",
    )
    parser.add_argument(
        "--max-replay",
        type=int,
        default=50_000,
        metavar="EVENTS",
        help="replay at most this many events on a restore; partitions beyond it restore "
        "users from the changelog instead, item-side learning since the checkpoint is then "
        "lost (default 50000)",
    )
    parser.add_argument(
        "--instance-id", default="", help="stable worker identity (transactional id suffix)"
    )
    add_connection_arguments(parser)
    logs.add_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from homerec.models import make_model

    logs.configure(args)
    settings = settings_from_args(args)
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
        dedup_window=args.dedup_window,
        changelog=not args.no_changelog,
        async_commit=not args.sync_delivery,
        overlap_acks=not args.sync_delivery,
        item_state_every_s=args.item_state_interval,
        checkpoint_every_s=args.checkpoint_interval,
        max_replay=args.max_replay,
        instance_id=args.instance_id,
    )
    extra: dict[str, Any] = {"ann_candidates": args.ann_candidates} if args.ann_candidates else {}
    model = make_model(
        args.model,
        feedback=feedback,
        candidates=args.candidates,
        max_tag_share=None if args.max_tag_share >= 1 else args.max_tag_share,
        **extra,
    )
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

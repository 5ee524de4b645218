"""The ``homerec`` command: one sub-command per module of :mod:`streams.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from homerec import __version__
from homerec.errors import HomerecError

__all__ = ["COMMANDS", "build_parser", "main"]

#: Sub-command modules, in the order ``--help`` lists them. Each defines
#: ``register(subparsers)`` which adds its parser and sets ``func(args) -> int``.
COMMANDS: tuple[str, ...] = (
    "topics",
    "worker",
    "replay",
    "recs",
    "forget",
    "demo",
    "chaos",
    "eval",
    "bench",
    "simulate",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="homerec",
        description="Streaming online-learning recommender for personalised homepages, on Kafka.",
        epilog="Run 'homerec COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"homerec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"streams.commands.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except HomerecError as exc:
        print(f"homerec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    raise SystemExit(main())

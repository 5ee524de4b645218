"""Summarise a py-spy profile (``--format raw``, collapsed stacks) under one frame.

Record a benchmark phase, then list the hottest functions below the worker's loop::

    py-spy record -r 50 --format raw -o prof.txt -- \\
        homerec bench --skip freshness,memory,scaling,ann
    python -m streams.bench.profile prof.txt --anchor "Worker.step (" --top 25

Inclusive share = samples with the function anywhere on the stack below the
anchor; self share = samples with it on top. Line numbers are folded away.

>>> lines = ["main (a.py:1);Worker.step (w.py:3);send (k.py:9) 3", "main (a.py:1);other (o.py:2) 5"]
>>> total, incl, own = summarize(lines, "Worker.step (")
>>> total, incl["send (k.py)"], own["send (k.py)"]
(3, 3, 3)
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence

__all__ = ["main", "summarize"]

_LINE = re.compile(r":\d+\)$")


def summarize(lines: Iterable[str], anchor: str) -> tuple[int, Counter[str], Counter[str]]:
    """``(samples, inclusive, self)`` counts of the stacks that contain ``anchor``."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        start = next((i for i, f in enumerate(frames) if anchor in f), None)
        if start is None:
            continue
        n = int(count)
        total += n
        names = [_LINE.sub(")", f) for f in frames[start:]]
        for name in set(names):
            inclusive[name] += n
        own[names[-1]] += n
    return total, inclusive, own


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("profile", help="py-spy --format raw output")
    parser.add_argument("--anchor", default="Worker.step (", help="frame to root the view at")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    with open(args.profile, encoding="utf-8") as fh:
        total, inclusive, own = summarize(fh, args.anchor)
    print(f"{total} samples under {args.anchor!r}")
    for title, counts in (("inclusive", inclusive), ("self", own)):
        print(f"-- {title}")
        for name, n in counts.most_common(args.top):
            print(f"{100.0 * n / max(1, total):6.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

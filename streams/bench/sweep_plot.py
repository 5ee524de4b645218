"""An SVG picture of a freshness sweep: p50 and p99 against the offered load.

``homerec bench --freshness-sweep R,... --sweep-plot PATH`` writes it. The
latency axis is logarithmic (a saturated worker's p99 is seconds, the goals are
tens of milliseconds); the goals are drawn as horizontal lines and the capacity
(the highest load up to which every swept load met both) as a vertical one.
Plain SVG text, no plotting library: a browser shows it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

from streams.bench.freshness import GOAL_P50_MS, GOAL_P99_MS

__all__ = ["sweep_svg"]

_W, _H = 640, 400
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 24, 40, 52


def sweep_svg(
    rows: Sequence[Mapping[str, Any]],
    *,
    p50_goal_ms: float = GOAL_P50_MS,
    p99_goal_ms: float = GOAL_P99_MS,
    capacity_eps: float | None = None,
    title: str = "homerec freshness against offered load",
) -> str:
    """The SVG document for ``rows`` (``offered_eps``, ``p50_ms``, ``p99_ms`` each).

    >>> svg = sweep_svg([{"offered_eps": 1000, "p50_ms": 12, "p99_ms": 40},
    ...                  {"offered_eps": 2000, "p50_ms": 30, "p99_ms": 400}], capacity_eps=1000)
    >>> svg.startswith("<svg") and svg.count("<polyline") == 2 and "capacity 1,000" in svg
    True
    """
    if not rows:
        raise ValueError("a sweep plot needs at least one measured load")
    pts = sorted(rows, key=lambda r: float(r["offered_eps"]))
    x_max = _nice_ceiling(max(float(r["offered_eps"]) for r in pts) * 1.05)
    highest = max(max(float(r["p99_ms"]) for r in pts), p99_goal_ms, 1.0)
    decades = max(2, math.ceil(math.log10(highest * 1.2)))  # 1 ms .. 10^decades ms

    def x(eps: float) -> float:
        return _LEFT + (_W - _LEFT - _RIGHT) * eps / x_max

    def y(ms: float) -> float:
        frac = math.log10(max(ms, 1.0)) / decades
        return _H - _BOTTOM - (_H - _TOP - _BOTTOM) * frac

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" font-family="sans-serif" font-size="12">',
        f'<rect width="{_W}" height="{_H}" fill="white"/>',
        f'<text x="{_W / 2:.0f}" y="22" text-anchor="middle" font-size="14">{escape(title)}</text>',
    ]
    # axes, ticks and grid
    x0, y0, x1, y1 = _LEFT, _H - _BOTTOM, _W - _RIGHT, _TOP
    out.append(f'<path d="M{x0},{y1} V{y0} H{x1}" stroke="black" fill="none"/>')
    for i in range(6):
        eps = x_max * i / 5
        out.append(
            f'<line x1="{x(eps):.1f}" y1="{y0}" x2="{x(eps):.1f}" y2="{y0 + 5}" stroke="black"/>'
        )
        out.append(f'<text x="{x(eps):.1f}" y="{y0 + 18}" text-anchor="middle">{eps:,.0f}</text>')
    for d in range(decades + 1):
        ms = 10.0**d
        out.append(f'<line x1="{x0}" y1="{y(ms):.1f}" x2="{x1}" y2="{y(ms):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 - 6}" y="{y(ms) + 4:.1f}" text-anchor="end">{ms:,.0f}</text>')
    out.append(
        f'<text x="{(x0 + x1) / 2:.0f}" y="{_H - 14}" text-anchor="middle">offered load, events/s</text>'
    )
    out.append(f'<text transform="translate(16,{(y0 + y1) / 2:.0f}) rotate(-90)" text-anchor="middle">'
               "event ts → list readable, ms (log)</text>")  # fmt: skip
    # goals and capacity
    for ms, name in ((p50_goal_ms, "p50 goal"), (p99_goal_ms, "p99 goal")):
        out.append(f'<line x1="{x0}" y1="{y(ms):.1f}" x2="{x1}" y2="{y(ms):.1f}" '
                   'stroke="#888" stroke-dasharray="2,3"/>')  # fmt: skip
        out.append(f'<text x="{x1 - 4}" y="{y(ms) - 4:.1f}" text-anchor="end" fill="#555">'
                   f"{name} {ms:,.0f} ms</text>")  # fmt: skip
    if capacity_eps is not None:
        cx = x(capacity_eps)
        out.append(
            f'<line x1="{cx:.1f}" y1="{y0}" x2="{cx:.1f}" y2="{y1}" stroke="#2a2" stroke-dasharray="6,3"/>'
        )
        out.append(
            f'<text x="{cx + 4:.1f}" y="{y1 + 12}" fill="#2a2">capacity {capacity_eps:,.0f}</text>'
        )
    # the measured percentiles
    for key, colour, dash in (
        ("p50_ms", "#1f77b4", ""),
        ("p99_ms", "#d62728", ' stroke-dasharray="7,3"'),
    ):
        xy = " ".join(f"{x(float(r['offered_eps'])):.1f},{y(float(r[key])):.1f}" for r in pts)
        out.append(
            f'<polyline points="{xy}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'
        )
        for r in pts:
            out.append(f'<circle cx="{x(float(r["offered_eps"])):.1f}" cy="{y(float(r[key])):.1f}" '
                       f'r="3" fill="{colour}"><title>{float(r["offered_eps"]):,.0f} events/s: '
                       f"{key[:3]} {float(r[key]):,.0f} ms</title></circle>")  # fmt: skip
    lx = x0 + 12
    out.append(
        f'<line x1="{lx}" y1="{y1 + 8}" x2="{lx + 24}" y2="{y1 + 8}" stroke="#1f77b4" stroke-width="2"/>'
    )
    out.append(f'<text x="{lx + 30}" y="{y1 + 12}">p50</text>')
    out.append(f'<line x1="{lx}" y1="{y1 + 24}" x2="{lx + 24}" y2="{y1 + 24}" stroke="#d62728" '
               'stroke-width="2" stroke-dasharray="7,3"/>')  # fmt: skip
    out.append(f'<text x="{lx + 30}" y="{y1 + 28}">p99</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above ``value`` (axis end).

    >>> [_nice_ceiling(v) for v in (0.0, 3150.0, 2000.0, 460.0)]
    [1.0, 5000.0, 2000.0, 500.0]
    """
    if value <= 0:
        return 1.0
    base = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * base >= value:
            return step * base
    return 10.0 * base

"""The freshness sweep's SVG: well-formed, one point per measured load, goals and capacity."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from streams.bench.sweep_plot import sweep_svg

_NS = {"s": "http://www.w3.org/2000/svg"}


def _rows() -> list[dict[str, float]]:
    return [
        {"offered_eps": 2000, "p50_ms": 20, "p99_ms": 88},
        {"offered_eps": 500, "p50_ms": 13, "p99_ms": 31},
        {"offered_eps": 3500, "p50_ms": 659, "p99_ms": 2415},
    ]


def test_one_point_per_load_in_load_order_and_higher_latency_higher_up() -> None:
    root = ET.fromstring(sweep_svg(_rows(), capacity_eps=2000))
    lines = root.findall("s:polyline", _NS)
    assert len(lines) == 2  # p50, p99
    for line, key in zip(lines, ("p50_ms", "p99_ms"), strict=True):
        pts = [tuple(map(float, p.split(","))) for p in line.attrib["points"].split()]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        assert len(pts) == 3 and xs == sorted(xs)  # sorted by offered load
        by_load = sorted(_rows(), key=lambda r: r["offered_eps"])
        # SVG y grows downwards: a larger latency is drawn higher (smaller y), on a log scale
        order = sorted(range(3), key=lambda i: by_load[i][key])
        assert [ys[i] for i in order] == sorted(ys, reverse=True)
        # log scale: equal ratios of latency are equal distances
        logs = [math.log10(r[key]) for r in by_load]
        slope_low = (ys[1] - ys[0]) / (logs[1] - logs[0])
        assert slope_low == pytest.approx((ys[2] - ys[1]) / (logs[2] - logs[1]), rel=0.02)


def test_goals_and_capacity_are_labelled() -> None:
    svg = sweep_svg(_rows(), capacity_eps=2000, p50_goal_ms=20, p99_goal_ms=100)
    texts = [t.text or "" for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")]
    assert "p50 goal 20 ms" in texts and "p99 goal 100 ms" in texts
    assert "capacity 2,000" in texts
    assert not any(
        "capacity" in t for t in (e.text or "" for e in ET.fromstring(sweep_svg(_rows())).iter())
    )


def test_an_empty_sweep_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        sweep_svg([])

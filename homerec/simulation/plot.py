"""A PNG of a run's time series: CTR, catalog coverage and new items' exposure per window."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from homerec.errors import ConfigError
from homerec.simulation.report import SimulationReport

__all__ = ["plot_reports", "pyplot"]


def pyplot() -> Any:
    """matplotlib's ``pyplot`` on the Agg backend; :class:`ConfigError` if it is missing
    (call it before a long run to fail early)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigError("--plot needs matplotlib (pip install 'homerec[plot]')") from None
    return plt


def plot_reports(reports: Sequence[SimulationReport], path: str | Path, *, title: str = "") -> None:
    """Write the windows of each report (one line per policy) to ``path`` (PNG)."""
    plt = pyplot()
    fig, axes = plt.subplots(3, 1, figsize=(7.5, 8.4), dpi=100, sharex=True)
    panels = (
        ("ctr", "CTR per window"),
        ("coverage", "catalog shown so far"),
        ("new_items_shown", "new items shown so far"),
    )
    for ax, (name, label) in zip(axes, panels, strict=True):
        for r in reports:
            xs = [w.sessions for w in r.windows]
            ax.plot(xs, [getattr(w, name) for w in r.windows], lw=1.5, label=r.policy)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper left", fontsize=8, ncol=len(reports))
    axes[-1].set_xlabel("sessions")
    axes[0].set_title(title or "closed-loop simulation")
    fig.tight_layout()
    fig.savefig(str(path), format="png")
    plt.close(fig)

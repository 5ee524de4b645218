"""A PNG of HR@K along the stream for several models (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from homerec.errors import ConfigError
from homerec.evaluation.prequential import EvalResult

__all__ = ["plot_curves"]


def plot_curves(results: Sequence[EvalResult], path: str | Path, *, title: str = "") -> None:
    """Write windowed and cumulative HR@K of each result to ``path`` (PNG)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigError("--plot needs matplotlib (pip install 'homerec[plot]')") from None
    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=100)
    for r in results:
        xs = [p.events for p in r.curve]
        line = ax.plot(xs, [p.window_hr for p in r.curve], lw=1.0, alpha=0.55)[0]
        ax.plot(
            xs,
            [p.hr for p in r.curve],
            lw=2.0,
            color=line.get_color(),
            label=f"{r.model}  HR@{r.k}={r.hr:.3f}",
        )
    ax.set_xlabel("events (time order)")
    ax.set_ylabel(f"HR@{results[0].k if results else 10}")
    ax.set_title(title or "prequential HR: cumulative (bold) and per window (thin)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(str(path), format="png")
    plt.close(fig)

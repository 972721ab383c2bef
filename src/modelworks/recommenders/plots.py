"""Figures of a recommender run: how training went, and how the models compare.

Built as ``matplotlib.figure.Figure`` on an Agg canvas, as ``training.plots`` builds its own:
no global backend switch and nothing left in pyplot's registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from modelworks.recommenders.hybrid import TrainingHistory


def learning_curve_figure(history: TrainingHistory) -> Figure:
    """BPR loss per epoch of each phase, and validation NDCG@10 with the chosen epoch where
    the history has validated epochs."""
    validated = [e for e in history.epochs if e.valid_ndcg_at_10 is not None]
    fig = _figure((10, 3.5) if validated else (5, 3.5))
    axes = fig.subplots(1, 2 if validated else 1, squeeze=False)[0]
    loss_ax = axes[0]
    for phase in dict.fromkeys(e.phase for e in history.epochs):
        epochs = [e for e in history.epochs if e.phase == phase]
        loss_ax.plot([e.epoch for e in epochs], [e.loss for e in epochs], marker="o", label=phase)
    loss_ax.set(xlabel="epoch", ylabel="BPR loss", title="Training loss")
    loss_ax.legend()
    if validated:
        ndcg_ax = axes[1]
        ndcg_ax.plot(
            [e.epoch for e in validated], [e.valid_ndcg_at_10 for e in validated], marker="o"
        )
        ndcg_ax.axvline(history.best_epoch, color="grey", linestyle="--", label="chosen epoch")
        ndcg_ax.set(xlabel="epoch", ylabel="NDCG@10", title="Validation NDCG@10")
        ndcg_ax.legend()
    fig.tight_layout()
    return fig


def ndcg_figure(models: Sequence[dict[str, Any]]) -> Figure:
    """Holdout NDCG@10 of each model (``name``, ``holdout``), overall, warm and cold start."""
    groups = (("", "all users"), ("_warm", "warm"), ("_cold", "cold start"))
    fig = _figure((7, 3.5))
    ax = fig.subplots()
    width = 0.8 / len(models)
    x = np.arange(len(groups))
    for i, model in enumerate(models):
        values = [model["holdout"].get(f"ndcg_at_10{suffix}", np.nan) for suffix, _ in groups]
        ax.bar(x + (i - (len(models) - 1) / 2) * width, values, width, label=model["name"])
    ax.set_xticks(x, [label for _, label in groups])
    ax.set(ylabel="NDCG@10", title="Holdout NDCG@10 on the latest period")
    ax.legend()
    fig.tight_layout()
    return fig


def message_figure(message: str) -> Figure:
    """A figure that only says ``message`` (where there is nothing to draw)."""
    figure = _figure((7, 1))
    figure.text(0.5, 0.5, message, ha="center", va="center")
    return figure


def _figure(size: tuple[float, float]) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=96)
    FigureCanvasAgg(figure)
    return figure

"""Uplift figures: the Qini curve, uplift and revenue uplift by decile, persuadable segments.

Like ``modelworks.training.plots``: ``matplotlib.figure.Figure`` on an Agg canvas, never
``pyplot``, matplotlib imported on first use; the caller logs or saves the figure.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelworks.uplift.metrics import (
    check_uplift_inputs,
    perfect_uplift_score,
    qini_coefficient,
    qini_curve,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from modelworks.uplift.explain import UpliftExplanation

_REFERENCE: dict[str, Any] = {"color": "grey", "linestyle": "--", "linewidth": 1}
_MAX_POINTS = 2000  # a curve with more points looks the same and makes heavy files


def _new_figure(size: tuple[float, float]) -> tuple[Figure, Axes]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _thinned(curve: pd.DataFrame) -> pd.DataFrame:
    if len(curve) <= _MAX_POINTS:
        return curve
    return curve.iloc[np.unique(np.linspace(0, len(curve) - 1, _MAX_POINTS).astype(int))]


def qini_figure(
    outcome: Any, treatment: Any, score: Any, *, label: str, show_perfect: bool = False
) -> Figure:
    """Qini curve against the random ranking; title ``Qini (coefficient 0.123)``.

    The perfect ranking's curve, which the coefficient is normalised by, is off by default: it
    knows every outcome, usually dwarfs a real model's curve and flattens it on the plot.
    """
    y, t, s = check_uplift_inputs(outcome, treatment, score)
    model = _thinned(qini_curve(y, t, s))
    figure, ax = _new_figure((6, 5))
    if show_perfect:
        perfect = _thinned(qini_curve(y, t, perfect_uplift_score(y, t)))
        ax.plot(perfect["fraction"], perfect["qini"], label="perfect", color="grey", linewidth=1)
    ax.plot(model["fraction"], model["qini"], label=label)
    ax.plot(model["fraction"], model["random"], label="random", **_REFERENCE)
    ax.axhline(0.0, color="black", linewidth=0.5)
    ax.set(xlabel="Fraction targeted", ylabel="Incremental outcomes (Qini)", xlim=(0, 1))
    ax.set_title(f"Qini (coefficient {qini_coefficient(y, t, s):.3f})")
    ax.legend(loc="lower right")
    return figure


def _decile_bars(
    table: pd.DataFrame, column: str, *, ylabel: str, title: str
) -> tuple[Figure, Axes]:
    """Actual ``column`` per decile as bars, the mean prediction as markers."""
    for needed in ("decile", column, "predicted"):
        if needed not in table.columns:
            raise ValueError(
                f"decile table lacks column {needed!r}; columns: {list(table.columns)}"
            )
    figure, ax = _new_figure((7, 4.5))
    deciles = table["decile"].to_numpy()
    ax.bar(deciles, table[column].to_numpy(dtype=float), color="tab:blue", label="actual")
    ax.plot(deciles, table["predicted"].to_numpy(dtype=float), "o", color="tab:orange",
            label="predicted (mean)")  # fmt: skip
    ax.axhline(0.0, color="black", linewidth=0.5)
    ax.set_xticks(deciles)
    ax.set(xlabel="Decile of the prediction (1 = highest)", ylabel=ylabel, title=title)
    return figure, ax


def uplift_by_decile_figure(
    table: pd.DataFrame, *, title: str = "Uplift by decile of predicted uplift"
) -> Figure:
    """Bars of actual treated-minus-control outcome rate per decile (``uplift_by_decile``)."""
    figure, ax = _decile_bars(table, "uplift", ylabel="Treated - control outcome", title=title)
    ax.legend(loc="upper right")
    return figure


def revenue_uplift_by_decile_figure(
    table: pd.DataFrame,
    *,
    cost: float,
    title: str = "Revenue uplift by decile of predicted revenue uplift",
) -> Figure:
    """Bars of actual value uplift per row per decile, with the cost per treatment as a line."""
    figure, ax = _decile_bars(
        table, "value_uplift", ylabel="Treated - control value per row", title=title
    )
    ax.axhline(cost, color="tab:red", linestyle="--", label=f"cost per treatment ({cost:g})")
    ax.legend(loc="upper right")
    return figure


def uplift_segments_figure(explanation: UpliftExplanation, *, top: int = 12) -> Figure:
    """Mean predicted uplift per segment (realised as markers when known), rules as labels."""
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    segments = explanation.segments.head(top)
    positions = np.arange(len(segments))[::-1]  # the highest uplift at the top
    labels = [
        textwrap.fill(f"{rule} ({share:.0%})", width=60)
        for rule, share in zip(segments["rule"], segments["share"], strict=True)
    ]
    height = max(3.0, 0.55 * len(segments) + 1.5)
    figure, ax = _new_figure((9, height))
    ax.barh(positions, segments["predicted_uplift"], color="tab:blue", label="predicted (mean)")
    if "realised_uplift" in segments.columns:
        ax.plot(segments["realised_uplift"], positions, "o", color="tab:orange", label="realised")
    everyone = explanation.segments
    overall = float(np.average(everyone["predicted_uplift"], weights=everyone["rows"]))
    ax.axvline(overall, label=f"average {overall:.3g}", **_REFERENCE)
    ax.axvline(0.0, color="black", linewidth=0.5)
    ax.set_yticks(positions, labels, fontsize=8)
    ax.set_xlabel("Uplift")
    ax.set_title(f"Who is persuadable (tree R\u00b2 {explanation.r_squared:.2f})")
    ax.legend(loc="lower right", fontsize=8)
    return figure

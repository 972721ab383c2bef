"""Figures on their own Agg canvas, for every module that draws one.

A ``matplotlib.figure.Figure`` with an explicit Agg canvas rather than ``pyplot``: no global
backend switch for whoever imports the caller, and nothing kept alive in pyplot's figure
registry when a pipeline makes hundreds of figures. matplotlib is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

REFERENCE_LINE: dict[str, Any] = {"color": "grey", "linestyle": "--", "linewidth": 1}
"""Line style of a reference to compare against: chance, prevalence, perfect calibration."""


def agg_figure(size: tuple[float, float], **options: Any) -> Figure:
    """A figure of ``size`` inches on its own Agg canvas; ``options`` go to ``Figure``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, **options)
    FigureCanvasAgg(figure)
    return figure


def new_figure(size: tuple[float, float]) -> tuple[Figure, Axes]:
    """A constrained-layout figure of ``size`` inches with one axes."""
    figure = agg_figure(size, layout="constrained")
    return figure, figure.add_subplot()

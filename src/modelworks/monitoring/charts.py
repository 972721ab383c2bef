"""The monitoring report's charts: embedded PNGs drawn with matplotlib's Agg canvas."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

# Two-sided 95% normal interval around an estimate.
Z_95 = 1.96


def bar_chart_png(
    name: str, labels: list[str], ref_props: np.ndarray, cur_props: np.ndarray
) -> str:
    fig, ax = _figure(max(6.0, 0.45 * len(labels) + 2), 3.4)
    x = np.arange(len(labels))
    width = 0.4
    ax.bar(x - width / 2, ref_props, width, label="reference", color="#627d98")
    ax.bar(x + width / 2, cur_props, width, label="current", color="#f0b429")
    ax.set_xticks(x, [plain(label) for label in labels], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("proportion of rows")
    ax.set_title(plain(name), fontsize=10)
    ax.legend(fontsize=8)
    return _png(fig)


def trend_png(labels: list[str], runs: list[dict[str, Any]]) -> str:
    """Flagged features, score PSI and the task's headline metric (estimated with its interval
    where the task allows, realised) per run."""
    x = np.arange(len(runs))
    fig, axes = _figure(max(7.0, 0.35 * len(runs) + 3), 6.6, rows=3)
    critical = np.array([run["n_critical"] for run in runs])
    warn = np.array([run["n_warn"] for run in runs])
    axes[0].bar(x, critical, color="#e12d39", label="critical")
    axes[0].bar(x, warn, bottom=critical, color="#f0b429", label="warn")
    axes[0].set_ylabel("features")
    axes[0].yaxis.get_major_locator().set_params(integer=True)
    axes[0].legend(fontsize=8)

    psi = _series(runs, "prediction_drift", "psi")
    axes[1].plot(x, psi, marker="o", color="#627d98")
    axes[1].set_ylabel("score PSI")

    metric, title = trend_metric(runs)
    estimated = _series(runs, "estimated_performance", metric)
    half_width = Z_95 * _series(runs, "estimated_performance", f"{metric}_se")
    axes[2].errorbar(x, estimated, yerr=half_width, marker="o", capsize=3, label="estimated")
    axes[2].plot(x, realised_series(runs, metric), "s-", label="realised")
    axes[2].set_ylabel(title)
    axes[2].legend(fontsize=8)
    axes[2].set_xticks(x, [plain(label) for label in labels], rotation=45, ha="right", fontsize=8)
    for ax in axes[:2]:
        ax.set_xticks(x, [""] * len(x))
    return _png(fig)


def realised_series(runs: list[dict[str, Any]], metric: str) -> np.ndarray:
    """The realised metric per run: on the batch's labels, or where a task measures it on its
    own rows (an uplift's random holdouts)."""
    labelled = _series(runs, "realised_performance", metric)
    return np.where(np.isnan(labelled), _series(runs, "holdout_uplift", metric), labelled)


def _series(runs: list[dict[str, Any]], section: str, key: str) -> np.ndarray:
    """One number per run, NaN where the run lacks it (matplotlib leaves a gap)."""
    values = [(run.get(section) or {}).get(key) for run in runs]
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _figure(width: float, height: float, *, rows: int = 1) -> tuple[Any, Any]:
    # Imported here so that computing drift does not pay for matplotlib; the Figure API with
    # an explicit Agg canvas leaves pyplot's global backend and state untouched.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=96)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, squeeze=True)
    for ax in np.atleast_1d(axes):
        ax.spines[["top", "right"]].set_visible(False)
    return fig, axes


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def plain(text: str) -> str:
    """Keep matplotlib from reading ``$...$`` in a feature or category name as mathtext."""
    return text.replace("$", r"\$")


# The headline metric of a trend, by the first one the runs report.
_HEADLINES = (
    ("roc_auc", "ROC-AUC"),
    ("rmse", "RMSE"),
    ("log_loss", "log loss"),
    ("qini_coefficient", "Qini"),
    ("ndcg_at_10", "NDCG@10"),
)


def trend_metric(runs: list[dict[str, Any]]) -> tuple[str, str]:
    """(key, axis title) of the metric a trend follows: the first headline any run reports."""
    for key, title in _HEADLINES:
        for run in runs:
            for section in ("estimated_performance", "realised_performance", "holdout_uplift"):
                if (run.get(section) or {}).get(key) is not None:
                    return key, title
    return "roc_auc", "ROC-AUC"

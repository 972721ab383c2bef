import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from modelworks.training import (
    binary_classification_metrics,
    calibration_figure,
    feature_importance_figure,
    precision_recall_figure,
    roc_curve_figure,
)

Y = np.array([0, 0, 1, 1, 0, 1, 0, 1, 0, 0])
P = np.array([0.1, 0.6, 0.4, 0.8, 0.2, 0.9, 0.3, 0.7, 0.05, 0.5])
METRICS = binary_classification_metrics(Y, P)


def _title(figure: Figure) -> str:
    return figure.axes[0].get_title()


def _legend(figure: Figure) -> list[str]:
    return [text.get_text() for text in figure.axes[0].get_legend().get_texts()]


def test_roc_figure_shows_auc_in_title_and_label_in_legend():
    figure = roc_curve_figure(Y, P, label="lightgbm")
    assert isinstance(figure, Figure)
    assert _title(figure) == f"ROC (AUC {METRICS['roc_auc']:.3f})"
    assert "lightgbm" in _legend(figure)


def test_precision_recall_figure_shows_average_precision():
    figure = precision_recall_figure(Y, P, label="catboost")
    assert _title(figure) == f"Precision-recall (AP {METRICS['pr_auc']:.3f})"
    assert "catboost" in _legend(figure)


def test_calibration_figure_shows_brier_and_one_point_per_bin():
    figure = calibration_figure(Y, P, label="catboost", n_bins=5)
    assert _title(figure) == f"Calibration (Brier {METRICS['brier']:.3f})"
    model_line = figure.axes[0].get_lines()[0]
    assert len(model_line.get_xdata()) == 5


def test_figures_render_to_png_without_pyplot(tmp_path):
    figure = roc_curve_figure(Y, P, label="m")
    figure.savefig(tmp_path / "roc.png")
    assert (tmp_path / "roc.png").stat().st_size > 0


def test_feature_importance_figure_shows_the_top_features_largest_first():
    importance = pd.Series({"a": 0.1, "b": 0.5, "c": 0.3, "d": 0.1})
    figure = feature_importance_figure(importance, top=2)
    ax = figure.axes[0]
    assert _title(figure) == "Feature importance (top 2 of 4)"
    # barh draws bottom-up, so the largest feature is the last tick
    assert [tick.get_text() for tick in ax.get_yticklabels()] == ["c", "b"]
    assert feature_importance_figure(importance).axes[0].get_title() == "Feature importance"


def test_plots_reject_bad_input():
    with pytest.raises(ValueError, match="both classes"):
        roc_curve_figure([1, 1], [0.2, 0.3], label="m")
    with pytest.raises(ValueError, match="empty"):
        feature_importance_figure(pd.Series(dtype=float))

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from modelworks.training import (
    binary_classification_metrics,
    calibration_figure,
    confusion_matrix_figure,
    feature_importance_figure,
    multiclass_calibration_figure,
    multiclass_metrics,
    precision_recall_figure,
    predicted_vs_actual_figure,
    regression_metrics,
    residuals_figure,
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


def _regression_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    return y, y + rng.normal(scale=0.3, size=200)


def _multiclass_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3)) + 2 * np.eye(3)[y]
    return y, np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def test_predicted_vs_actual_figure_shows_rmse_and_r2():
    y, pred = _regression_data()
    figure = predicted_vs_actual_figure(y, pred, label="lightgbm")
    metrics = regression_metrics(y, pred)
    assert isinstance(figure, Figure) and figure.axes
    assert _title(figure) == (
        f"Predicted vs actual (RMSE {metrics['rmse']:.3g}, R² {metrics['r2']:.3f})"
    )
    assert "lightgbm" in _legend(figure)


def test_residuals_figure_is_a_histogram_of_actual_minus_predicted():
    y, pred = _regression_data()
    figure = residuals_figure(y, pred, label="catboost", n_bins=20)
    ax = figure.axes[0]
    assert len(ax.patches) == 20
    assert sum(patch.get_height() for patch in ax.patches) == len(y)
    assert _title(figure).startswith(f"Residuals (mean {np.mean(y - pred):.3g}")
    assert "catboost" in _legend(figure)


def test_confusion_matrix_figure_is_row_normalised_and_annotated():
    y, proba = _multiclass_data()
    figure = confusion_matrix_figure(y, proba, ["low", "mid", "high"], label="m")
    ax = figure.axes[0]
    shares = ax.get_images()[0].get_array()
    np.testing.assert_allclose(np.asarray(shares).sum(axis=1), 1.0)
    assert len(ax.texts) == 9
    assert [tick.get_text() for tick in ax.get_yticklabels()] == ["low", "mid", "high"]
    accuracy = multiclass_metrics(y, proba)["accuracy"]
    assert _title(figure) == f"m: confusion matrix (accuracy {accuracy:.3f})"


def test_confusion_matrix_row_without_true_rows_stays_zero():
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    figure = confusion_matrix_figure([0, 1], proba, ["a", "b", "c"], label="m")
    shares = np.asarray(figure.axes[0].get_images()[0].get_array())
    np.testing.assert_array_equal(shares, [[1, 0, 0], [0, 1, 0], [0, 0, 0]])


def test_multiclass_calibration_figure_has_one_curve_per_class():
    y, proba = _multiclass_data()
    figure = multiclass_calibration_figure(y, proba, ["a", "b", "c"], label="m", n_bins=5)
    assert {"a", "b", "c"} <= set(_legend(figure))
    curves = figure.axes[0].get_lines()[:3]
    assert all(1 <= len(line.get_xdata()) <= 5 for line in curves)
    assert _title(figure) == (
        f"m: one-vs-rest calibration (Brier {multiclass_metrics(y, proba)['brier']:.3f})"
    )
    figure.savefig(io.BytesIO(), format="png")


def test_new_plots_reject_bad_input():
    y, proba = _multiclass_data()
    with pytest.raises(ValueError, match="class_names has 2 names but proba has 3"):
        confusion_matrix_figure(y, proba, ["a", "b"], label="m")
    with pytest.raises(ValueError, match="class_names has 4 names"):
        multiclass_calibration_figure(y, proba, list("abcd"), label="m")
    with pytest.raises(ValueError, match="y_pred has 1 NaN"):
        residuals_figure([1.0, 2.0], [1.0, np.nan], label="m")
    with pytest.raises(ValueError, match="2 values but y_pred has 1"):
        predicted_vs_actual_figure([1.0, 2.0], [1.0], label="m")

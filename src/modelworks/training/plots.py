"""Evaluation figures for one model each; the caller decides where they are logged or saved.

Figures are ``matplotlib.figure.Figure`` on an Agg canvas, never ``pyplot`` (see
``modelworks.training.figures``). matplotlib and scikit-learn are imported on first use so
that importing modelworks.training stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelworks.training.figures import REFERENCE_LINE, new_figure
from modelworks.training.metrics import (
    check_binary_scores,
    check_multiclass_scores,
    check_regression_predictions,
    multiclass_metrics,
    regression_metrics,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def roc_curve_figure(y: Any, p: Any, *, label: str) -> Figure:
    """ROC curve against the chance diagonal; title ``ROC (AUC 0.781)``."""
    from sklearn.metrics import roc_auc_score, roc_curve

    labels, scores = check_binary_scores(y, p)
    fpr, tpr, _ = roc_curve(labels, scores)
    figure, ax = new_figure((5.5, 5))
    ax.plot(fpr, tpr, label=label)
    ax.plot([0, 1], [0, 1], label="chance", **REFERENCE_LINE)
    ax.set(xlabel="False positive rate", ylabel="True positive rate", xlim=(0, 1), ylim=(0, 1))
    ax.set_title(f"ROC (AUC {roc_auc_score(labels, scores):.3f})")
    ax.legend(loc="lower right")
    return figure


def precision_recall_figure(y: Any, p: Any, *, label: str) -> Figure:
    """Precision-recall curve against the prevalence line; title ``Precision-recall (AP 0.412)``."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    labels, scores = check_binary_scores(y, p)
    precision, recall, _ = precision_recall_curve(labels, scores)
    prevalence = float(labels.mean())
    figure, ax = new_figure((5.5, 5))
    ax.plot(recall, precision, drawstyle="steps-post", label=label)
    ax.axhline(prevalence, label=f"prevalence {prevalence:.3f}", **REFERENCE_LINE)
    ax.set(xlabel="Recall", ylabel="Precision", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title(f"Precision-recall (AP {average_precision_score(labels, scores):.3f})")
    ax.legend(loc="upper right")
    return figure


def calibration_figure(y: Any, p: Any, *, label: str, n_bins: int = 10) -> Figure:
    """Observed positive rate per score bin vs the diagonal; title ``Calibration (Brier 0.123)``.

    Bins are score quantiles, so each point rests on about the same number of rows even when
    scores crowd near zero, as they do for rare events.
    """
    if n_bins < 2:
        raise ValueError(f"n_bins must be at least 2, got {n_bins}")
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    labels, scores = check_binary_scores(y, p)
    observed, predicted = calibration_curve(labels, scores, n_bins=n_bins, strategy="quantile")
    figure, ax = new_figure((5.5, 5))
    ax.plot(predicted, observed, marker="o", label=label)
    ax.plot([0, 1], [0, 1], label="perfectly calibrated", **REFERENCE_LINE)
    ax.set(xlabel="Mean predicted probability", ylabel="Observed positive rate")
    ax.set(xlim=(0, 1), ylim=(0, 1))
    ax.set_title(f"Calibration (Brier {brier_score_loss(labels, scores):.3f})")
    ax.legend(loc="upper left")
    return figure


def feature_importance_figure(importance: pd.Series, *, top: int = 25) -> Figure:
    """Horizontal bars of the ``top`` most important features, largest at the top."""
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    if importance.empty:
        raise ValueError("importance is empty: no features to plot")
    shown = importance.sort_values(ascending=False).head(top)
    figure, ax = new_figure((7, max(2.5, 0.3 * len(shown) + 1.2)))
    positions = np.arange(len(shown))
    ax.barh(positions, shown.to_numpy(dtype=float)[::-1])
    ax.set_yticks(positions, [str(name) for name in shown.index[::-1]])
    ax.set_xlabel("Share of total importance")
    if len(shown) < len(importance):
        ax.set_title(f"Feature importance (top {len(shown)} of {len(importance)})")
    else:
        ax.set_title("Feature importance")
    return figure


def predicted_vs_actual_figure(y: Any, pred: Any, label: str) -> Figure:
    """Predicted against actual values around the identity line; RMSE and R² in the title."""
    actual, predicted = check_regression_predictions(y, pred)
    metrics = regression_metrics(actual, predicted)
    figure, ax = new_figure((5.5, 5))
    ax.scatter(actual, predicted, s=8, alpha=0.4, linewidths=0, label=label, rasterized=True)
    low = float(min(actual.min(), predicted.min()))
    high = float(max(actual.max(), predicted.max()))
    ax.plot([low, high], [low, high], label="predicted = actual", **REFERENCE_LINE)
    ax.set(xlabel="Actual", ylabel="Predicted")
    ax.set_title(f"Predicted vs actual (RMSE {metrics['rmse']:.3g}, R² {metrics['r2']:.3f})")
    ax.legend(loc="upper left")
    return figure


def residuals_figure(y: Any, pred: Any, label: str, *, n_bins: int = 40) -> Figure:
    """Histogram of residuals (actual - predicted) with a line at 0; title gives mean and std."""
    if n_bins < 2:
        raise ValueError(f"n_bins must be at least 2, got {n_bins}")
    actual, predicted = check_regression_predictions(y, pred)
    residuals = actual - predicted
    figure, ax = new_figure((6, 4.5))
    ax.hist(residuals, bins=n_bins, alpha=0.8, label=label)
    ax.axvline(0.0, label="zero residual", **REFERENCE_LINE)
    ax.set(xlabel="Residual (actual - predicted)", ylabel="Rows")
    ax.set_title(f"Residuals (mean {residuals.mean():.3g}, std {residuals.std():.3g})")
    ax.legend(loc="upper right")
    return figure


def confusion_matrix_figure(y_codes: Any, proba: Any, class_names: list[str], label: str) -> Figure:
    """Row-normalised confusion matrix of the most probable class, each cell annotated.

    Row i is the true class i: its cells are the shares of those rows predicted as each class
    (a row without true rows stays 0). Title ``<label>: confusion matrix (accuracy 0.912)``.
    """
    codes, p = check_multiclass_scores(y_codes, proba)
    names = _class_names(class_names, p.shape[1])
    k = len(names)
    counts = np.bincount(codes * k + p.argmax(axis=1), minlength=k * k).reshape(k, k)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros((k, k)), where=totals > 0)
    figure, ax = new_figure((1.2 + 0.7 * k + 1.5, 1.2 + 0.7 * k))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=ax, label="Share of the true class")
    for (row, col), share in np.ndenumerate(shares):
        colour = "white" if share > 0.5 else "black"
        ax.text(col, row, f"{share:.2f}", ha="center", va="center", color=colour, fontsize=8)
    ticks = np.arange(k)
    ax.set_xticks(ticks, names, rotation=45, ha="right")
    ax.set_yticks(ticks, names)
    ax.set(xlabel="Predicted class", ylabel="True class")
    accuracy = float(np.trace(counts) / counts.sum())
    ax.set_title(f"{label}: confusion matrix (accuracy {accuracy:.3f})")
    return figure


def multiclass_calibration_figure(
    y_codes: Any, proba: Any, class_names: list[str], label: str, *, n_bins: int = 10
) -> Figure:
    """One-vs-rest reliability curve per class: observed rate of the class per bin of its
    predicted probability (quantile bins), against the diagonal; title gives the Brier score."""
    if n_bins < 2:
        raise ValueError(f"n_bins must be at least 2, got {n_bins}")
    from sklearn.calibration import calibration_curve

    codes, p = check_multiclass_scores(y_codes, proba)
    names = _class_names(class_names, p.shape[1])
    figure, ax = new_figure((5.5, 5))
    for code, name in enumerate(names):
        observed, predicted = calibration_curve(
            codes == code, p[:, code], n_bins=n_bins, strategy="quantile"
        )
        ax.plot(predicted, observed, marker="o", markersize=3, label=name)
    ax.plot([0, 1], [0, 1], label="perfectly calibrated", **REFERENCE_LINE)
    ax.set(xlabel="Mean predicted probability of the class", ylabel="Observed rate of the class")
    ax.set(xlim=(0, 1), ylim=(0, 1))
    brier = multiclass_metrics(codes, p)["brier"]
    ax.set_title(f"{label}: one-vs-rest calibration (Brier {brier:.3f})")
    ax.legend(loc="upper left", fontsize="small")
    return figure


def _class_names(class_names: list[str], n_classes: int) -> list[str]:
    names = [str(name) for name in class_names]
    if len(names) != n_classes:
        raise ValueError(
            f"class_names has {len(names)} names but proba has {n_classes} class columns"
        )
    return names

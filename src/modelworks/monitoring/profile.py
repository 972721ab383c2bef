"""The reference profile: training data summarised once, stored with the model version.

Plain JSON, so monitoring never reloads the training set: per feature, quantile bins and a
quantile sketch (numeric) or category frequencies (categorical), and for a model's scores the
same numeric summary plus a calibration map and the realised performance on the labelled rows.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from modelworks.monitoring.calibration import fit_calibration
from modelworks.monitoring.metrics import realised_performance, scores_and_labels

# 2: Wasserstein scale (mean, std) on numeric features; scores with calibration and performance.
PROFILE_VERSION = 2
# Where the reference quantile sketch puts its knots: every 0.5% of the mass, and closer in the
# tails, where interpolating across a wide outermost interval would otherwise dominate the
# error. The sketch stores the exact reference CDF at each knot, so a discrete feature whose
# values each hold more than 0.5% of the mass is represented exactly.
_TAILS = np.array([1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 3e-3, 4e-3])
SKETCH_PROBABILITIES = np.unique(np.concatenate([np.linspace(0.0, 1.0, 201), _TAILS, 1 - _TAILS]))

UNSEEN_LABEL = "(unseen)"
MISSING_LABEL = "(missing)"
SCORE_NAME = "score"


def build_reference_profile(
    reference: pd.DataFrame,
    *,
    numeric: list[str],
    categorical: list[str],
    n_bins: int = 10,
    scores: Any = None,
    labels: Any = None,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Summarise the reference rows per feature (and the model's scores) into a JSON profile.

    Numeric features keep quantile bin edges (``n_bins`` from reference quantiles, deduplicated;
    the outer bins are open-ended), the reference proportion in each bin, a quantile sketch for
    KS and Wasserstein (the values at ``SKETCH_PROBABILITIES``, deduplicated, with the exact
    number of reference values below and at-or-below each), mean and standard deviation, the
    non-missing count and the missing rate (NaN, None and +/-inf count as missing). Categorical
    features keep category frequencies (over non-missing values, categories as strings), the
    non-missing count and the missing rate.

    ``scores`` (the model's outputs on labelled holdout rows, not its training rows) add a
    ``scores`` entry: their numeric summary for prediction drift and, with ``labels`` (0/1),
    an isotonic calibration map for label-free performance estimation and the realised
    performance at ``threshold``. Without scores the entry is ``None``.
    """
    if n_bins < 2:
        raise ValueError(f"n_bins must be at least 2, got {n_bins}")
    overlap = sorted(set(numeric) & set(categorical))
    if overlap:
        raise ValueError(f"Features listed as both numeric and categorical: {overlap}")
    require_columns(reference, [*numeric, *categorical], frame="reference")
    if len(reference) == 0:
        raise ValueError("The reference frame is empty: a drift profile needs training rows")
    if labels is not None and scores is None:
        raise ValueError("Labels were given without scores: calibration needs both")

    features: dict[str, dict[str, Any]] = {}
    for name in numeric:
        features[name] = _profile_numeric(
            *sorted_finite(name, reference[name], "reference"), n_bins
        )
    for name in categorical:
        features[name] = _profile_categorical(reference[name])
    return {
        "version": PROFILE_VERSION,
        "n_rows": len(reference),
        "n_bins": n_bins,
        "features": features,
        "scores": None if scores is None else _profile_scores(scores, labels, n_bins, threshold),
    }


def check_profile(profile: dict[str, Any]) -> None:
    """Refuse a profile written by another version of this module."""
    if profile.get("version") != PROFILE_VERSION:
        raise ValueError(
            f"Drift profile version {profile.get('version')!r} is not supported (expected "
            f"{PROFILE_VERSION}): rebuild it with build_reference_profile"
        )


def score_profile(profile: dict[str, Any]) -> dict[str, Any]:
    """The profile's score summary; an error a person can act on when it has none."""
    check_profile(profile)
    scores: dict[str, Any] | None = profile.get("scores")
    if scores is None:
        raise ValueError(
            "The reference profile has no scores: pass scores= (and labels=) to "
            "build_reference_profile to monitor predictions"
        )
    return scores


def _profile_numeric(sorted_values: np.ndarray, n_rows: int, n_bins: int) -> dict[str, Any]:
    count = len(sorted_values)
    if count:
        inner = sorted_quantiles(sorted_values, np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
        edges = np.unique(inner)
        proportions = bin_counts(sorted_values, edges) / count
        knots = np.unique(sorted_quantiles(sorted_values, SKETCH_PROBABILITIES))
        mean, std = float(np.mean(sorted_values)), float(np.std(sorted_values))
    else:
        edges, proportions, knots = np.empty(0), np.zeros(1), np.empty(0)
        mean, std = None, None
    return {
        "kind": "numeric",
        "count": count,
        "missing_rate": (n_rows - count) / n_rows,
        "mean": mean,
        "std": std,
        "bin_edges": edges.tolist(),
        "bin_proportions": proportions.tolist(),
        "sketch": {
            "values": knots.tolist(),
            "n_below": np.searchsorted(sorted_values, knots, side="left").tolist(),
            "n_at_or_below": np.searchsorted(sorted_values, knots, side="right").tolist(),
        },
    }


def _profile_categorical(series: pd.Series) -> dict[str, Any]:
    counts = category_counts(series)
    count = int(counts.sum())
    n_rows = len(series)
    frequencies = (counts / count) if count else counts.astype(float)
    return {
        "kind": "categorical",
        "count": count,
        "missing_rate": (n_rows - count) / n_rows,
        "frequencies": {str(k): float(v) for k, v in frequencies.items()},
    }


def _profile_scores(scores: Any, labels: Any, n_bins: int, threshold: float) -> dict[str, Any]:
    summary = _profile_numeric(*sorted_finite(SCORE_NAME, scores, "reference"), n_bins)
    if labels is None:
        return summary | {"calibration": None, "performance": None}
    s, y = scores_and_labels(scores, labels)
    return summary | {
        "calibration": fit_calibration(s, y),
        "performance": realised_performance(s, y, threshold=threshold),
    }


# --------------------------------------------------------------------------------------------
# Column access and bins, shared with the drift comparison
# --------------------------------------------------------------------------------------------


def require_columns(data: pd.DataFrame, columns: list[str], *, frame: str) -> None:
    """Name every feature the frame lacks."""
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(f"Features missing from the {frame} frame: {missing}")


def sorted_finite(name: str, values: Any, frame: str) -> tuple[np.ndarray, int]:
    """A numeric column's finite values, sorted, and its row count (missing rows included)."""
    try:
        if isinstance(values, pd.Series):
            array = values.to_numpy(dtype="float64", na_value=np.nan)
        else:
            array = np.asarray(values, dtype="float64")
    except (TypeError, ValueError) as exc:
        dtype = getattr(values, "dtype", type(values).__name__)
        raise ValueError(
            f"Numeric feature {name!r} in the {frame} frame has non-numeric values "
            f"(dtype {dtype}): {exc}"
        ) from None
    # Boolean indexing copies, so sorting in place never touches the caller's frame.
    finite = array[np.isfinite(array)]
    finite.sort()
    return finite, len(array)


def category_counts(series: pd.Series) -> pd.Series:
    """Counts of non-missing values keyed by their string form, most frequent first."""
    if pd.api.types.is_float_dtype(series.dtype):
        # An integer code column turns float as soon as a batch has a missing value: 3.0 must
        # still match the reference's 3.
        present = series.dropna().to_numpy()
        integral = np.isfinite(present) & (np.abs(present) < 2**53)
        if len(present) and integral.all() and bool(np.all(np.mod(present, 1) == 0)):
            series = series.astype("Int64")
    counts = series.value_counts(dropna=True, sort=False)
    # A pandas Categorical also reports its declared but absent categories, with count 0.
    counts = counts[counts > 0]
    # A plain index: grouping on a CategoricalIndex would bring the absent categories back.
    counts.index = pd.Index([str(value) for value in counts.index], dtype=object)
    counts = counts.groupby(level=0, sort=False).sum()
    return counts.sort_values(ascending=False, kind="stable")


def sorted_quantiles(sorted_values: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """``np.quantile``'s default (linear) method on data already sorted, without re-sorting."""
    position = probs * (len(sorted_values) - 1)
    lower = np.floor(position).astype(np.intp)
    upper = np.minimum(lower + 1, len(sorted_values) - 1)
    fraction = position - lower
    return sorted_values[lower] + fraction * (sorted_values[upper] - sorted_values[lower])


def bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of sorted values in the bins (-inf, e0], (e0, e1], ..., (e_last, inf)."""
    cuts = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(np.concatenate([[0], cuts, [len(sorted_values)]])).astype(float)


def bin_labels(edges: list[float]) -> list[str]:
    """Readable labels of the bins ``bin_counts`` fills."""
    if not edges:
        return ["all"]
    fmt = [f"{e:.4g}" for e in edges]
    middle = [f"({lo}, {hi}]" for lo, hi in pairwise(fmt)]
    return [f"<= {fmt[0]}", *middle, f"> {fmt[-1]}"]

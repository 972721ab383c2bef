"""Feature drift: a reference profile built once from training data, compared with scoring batches.

The profile is plain JSON, stored next to the model version, so monitoring never reloads the
training set. The comparison leads with PSI (an effect size that does not grow with the sample)
and uses KS / chi-squared tests only to raise warnings: on a million rows every test rejects on
differences nobody cares about, while PSI stays put.
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator
from scipy import special, stats

from modelworks.params import StrictModel

PROFILE_VERSION = 1
# Where the reference quantile sketch puts its knots: every 0.5% of the mass, and closer in the
# tails, where interpolating across a wide outermost interval would otherwise dominate the
# error. The sketch stores the exact reference CDF at each knot, so a discrete feature whose
# values each hold more than 0.5% of the mass is represented exactly.
_TAILS = np.array([1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 3e-3, 4e-3])
SKETCH_PROBABILITIES = np.unique(np.concatenate([np.linspace(0.0, 1.0, 201), _TAILS, 1 - _TAILS]))
# Stands in for an empty bin in PSI, whose log term is otherwise infinite.
PSI_EPSILON = 1e-4
# Unseen categories listed per feature in the summary; the count of all of them is reported too.
MAX_UNSEEN_LISTED = 50

UNSEEN_LABEL = "(unseen)"
MISSING_LABEL = "(missing)"

Verdict = Literal["ok", "warn", "critical"]


class DriftThresholds(StrictModel):
    """Where a feature's drift turns from ok to warn to critical."""

    psi_warn: float = Field(default=0.1, gt=0)
    psi_critical: float = Field(default=0.25, gt=0)
    # Family-wise level for the KS / chi-squared p-values, after Holm's correction across features.
    p_value: float = Field(default=0.01, gt=0, lt=1)

    @model_validator(mode="after")
    def _warn_below_critical(self) -> DriftThresholds:
        if self.psi_warn > self.psi_critical:
            raise ValueError(
                f"psi_warn ({self.psi_warn}) must not exceed psi_critical ({self.psi_critical})"
            )
        return self


class DriftParams(StrictModel):
    """Drift monitoring parameters: bins for the reference profile and verdict thresholds."""

    n_bins: int = Field(default=10, ge=2)
    thresholds: DriftThresholds = DriftThresholds()


# --------------------------------------------------------------------------------------------
# Reference profile
# --------------------------------------------------------------------------------------------


def build_reference_profile(
    reference: pd.DataFrame,
    *,
    numeric: list[str],
    categorical: list[str],
    n_bins: int = 10,
) -> dict[str, Any]:
    """Summarise the training data per feature into a JSON-serialisable drift reference.

    Numeric features keep quantile bin edges (``n_bins`` from reference quantiles, deduplicated;
    the outer bins are open-ended), the reference proportion in each bin, a quantile sketch for
    KS (the values at ``SKETCH_PROBABILITIES``, deduplicated, with the exact number of reference
    values below and at-or-below each), the non-missing count and the missing rate (NaN, None
    and +/-inf count as missing). Categorical features keep category frequencies (over non-missing
    values, categories as strings), the non-missing count and the missing rate.
    """
    if n_bins < 2:
        raise ValueError(f"n_bins must be at least 2, got {n_bins}")
    overlap = sorted(set(numeric) & set(categorical))
    if overlap:
        raise ValueError(f"Features listed as both numeric and categorical: {overlap}")
    _require_columns(reference, [*numeric, *categorical], frame="reference")
    if len(reference) == 0:
        raise ValueError("The reference frame is empty: a drift profile needs training rows")

    features: dict[str, dict[str, Any]] = {}
    for name in numeric:
        features[name] = _profile_numeric(name, reference[name], n_bins)
    for name in categorical:
        features[name] = _profile_categorical(reference[name])
    return {
        "version": PROFILE_VERSION,
        "n_rows": len(reference),
        "n_bins": n_bins,
        "features": features,
    }


def _profile_numeric(name: str, series: pd.Series, n_bins: int) -> dict[str, Any]:
    values = _numeric_values(name, series, frame="reference")
    n_rows = len(values)
    values = values[np.isfinite(values)]
    values.sort()
    count = len(values)
    if count:
        inner = _sorted_quantiles(values, np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
        edges = np.unique(inner)
        proportions = _bin_counts(values, edges) / count
        knots = np.unique(_sorted_quantiles(values, SKETCH_PROBABILITIES))
    else:
        edges = np.empty(0)
        proportions = np.zeros(1)
        knots = np.empty(0)
    return {
        "kind": "numeric",
        "count": count,
        "missing_rate": (n_rows - count) / n_rows,
        "bin_edges": edges.tolist(),
        "bin_proportions": proportions.tolist(),
        "sketch": {
            "values": knots.tolist(),
            "n_below": np.searchsorted(values, knots, side="left").tolist(),
            "n_at_or_below": np.searchsorted(values, knots, side="right").tolist(),
        },
    }


def _profile_categorical(series: pd.Series) -> dict[str, Any]:
    counts = _category_counts(series)
    count = int(counts.sum())
    n_rows = len(series)
    frequencies = (counts / count) if count else counts.astype(float)
    return {
        "kind": "categorical",
        "count": count,
        "missing_rate": (n_rows - count) / n_rows,
        "frequencies": {str(k): float(v) for k, v in frequencies.items()},
    }


# --------------------------------------------------------------------------------------------
# Drift
# --------------------------------------------------------------------------------------------


# Field order of each feature in the summary.
_FEATURE_KEYS = (
    "feature",
    "kind",
    "psi",
    "ks_statistic",
    "ks_p_value",
    "chi2_statistic",
    "chi2_p_value",
    "p_value_corrected",
    "missing_rate_reference",
    "missing_rate_current",
    "unseen_categories",
    "n_unseen_categories",
    "verdict",
)


def compute_drift(
    profile: dict[str, Any], current: pd.DataFrame, params: DriftParams
) -> dict[str, Any]:
    """Compare a batch with the reference profile, feature by feature; return a JSON summary.

    Per feature: PSI over the reference bins (numeric) or categories plus an unseen bucket
    (categorical), in both cases with a missing-value bucket so a jump in the missing rate moves
    PSI; a two-sample KS test against the reference quantile sketch (numeric, the reference
    sample size being its non-missing count) or a two-sample chi-squared test on category counts
    (categorical, unseen categories pooled); missing rates; the categories absent from the
    reference (the ``MAX_UNSEEN_LISTED`` most frequent, and how many there are). p-values are
    Holm-corrected across all features of the batch.

    Verdict rule:
      * ``critical`` if PSI >= ``psi_critical``;
      * ``warn`` if PSI >= ``psi_warn`` or the corrected p-value < ``p_value``;
      * ``ok`` otherwise.
    Only PSI, which does not grow with the sample size, can make a feature critical; the tests,
    which reject trivially small differences on large batches, can at most warn.
    ``drift_detected`` is true when any feature is critical. Features are sorted by PSI, largest
    first. ``params.n_bins`` is not used here: the bins come from the profile.
    """
    if profile.get("version") != PROFILE_VERSION:
        raise ValueError(
            f"Drift profile version {profile.get('version')!r} is not supported (expected "
            f"{PROFILE_VERSION}): rebuild it with build_reference_profile"
        )
    thresholds = params.thresholds
    features: dict[str, dict[str, Any]] = profile["features"]
    _require_columns(current, list(features), frame="current")
    if len(current) == 0:
        raise ValueError("The current frame is empty: there is nothing to compare")

    rows = []
    for name, ref in features.items():
        if ref["kind"] == "numeric":
            rows.append(_drift_numeric(name, ref, current[name]))
        elif ref["kind"] == "categorical":
            rows.append(_drift_categorical(name, ref, current[name]))
        else:
            raise ValueError(f"Feature {name!r} has unknown kind {ref['kind']!r} in the profile")

    raw = [row["ks_p_value"] if row["kind"] == "numeric" else row["chi2_p_value"] for row in rows]
    corrected = holm_correction(raw)
    for row, p_corr in zip(rows, corrected, strict=True):
        row["p_value_corrected"] = p_corr
        row["verdict"] = _verdict(row["psi"], p_corr, thresholds)

    rows.sort(key=lambda row: row["psi"], reverse=True)
    ordered = [{key: row[key] for key in _FEATURE_KEYS} for row in rows]
    n_warn = sum(row["verdict"] == "warn" for row in ordered)
    n_critical = sum(row["verdict"] == "critical" for row in ordered)
    return {
        "n_reference": int(profile["n_rows"]),
        "n_current": len(current),
        "drift_detected": n_critical > 0,
        "n_warn": n_warn,
        "n_critical": n_critical,
        "features": ordered,
    }


def _verdict(psi: float, p_corrected: float | None, thresholds: DriftThresholds) -> Verdict:
    if psi >= thresholds.psi_critical:
        return "critical"
    if psi >= thresholds.psi_warn or (p_corrected is not None and p_corrected < thresholds.p_value):
        return "warn"
    return "ok"


def _drift_numeric(name: str, ref: dict[str, Any], series: pd.Series) -> dict[str, Any]:
    values = _numeric_values(name, series, frame="current")
    n_rows = len(values)
    values = values[np.isfinite(values)]
    values.sort()
    count = len(values)
    ref_props, cur_props = _numeric_distributions(ref, values, n_rows)

    ks_statistic: float | None = None
    ks_p_value: float | None = None
    if count and ref["count"]:
        ks_statistic = ks_statistic_against_sketch(ref["sketch"], int(ref["count"]), values)
        ks_p_value = _ks_p_value(ks_statistic, int(ref["count"]), count)
    return {
        "feature": name,
        "kind": "numeric",
        "psi": population_stability_index(ref_props, cur_props),
        "ks_statistic": ks_statistic,
        "ks_p_value": ks_p_value,
        "chi2_statistic": None,
        "chi2_p_value": None,
        "missing_rate_reference": float(ref["missing_rate"]),
        "missing_rate_current": (n_rows - count) / n_rows,
        "unseen_categories": [],
        "n_unseen_categories": 0,
    }


def _drift_categorical(name: str, ref: dict[str, Any], series: pd.Series) -> dict[str, Any]:
    n_rows = len(series)
    counts = _category_counts(series)
    count = int(counts.sum())
    frequencies: dict[str, float] = ref["frequencies"]
    seen = counts.reindex(list(frequencies), fill_value=0).to_numpy(dtype=float)
    unseen = counts[~counts.index.isin(list(frequencies))]
    unseen_total = float(unseen.sum())
    ref_props, cur_props = _categorical_distributions(ref, seen, unseen_total, n_rows)

    chi2_statistic: float | None = None
    chi2_p_value: float | None = None
    if count and ref["count"]:
        ref_counts = np.round(np.asarray(list(frequencies.values())) * ref["count"])
        chi2_statistic, chi2_p_value = _chi2_two_sample(
            np.append(ref_counts, 0.0), np.append(seen, unseen_total)
        )
    return {
        "feature": name,
        "kind": "categorical",
        "psi": population_stability_index(ref_props, cur_props),
        "ks_statistic": None,
        "ks_p_value": None,
        "chi2_statistic": chi2_statistic,
        "chi2_p_value": chi2_p_value,
        "missing_rate_reference": float(ref["missing_rate"]),
        "missing_rate_current": (n_rows - count) / n_rows,
        "unseen_categories": [str(c) for c in unseen.index[:MAX_UNSEEN_LISTED]],
        "n_unseen_categories": len(unseen),
    }


# --------------------------------------------------------------------------------------------
# Distributions on the reference bins (shared with the report's plots)
# --------------------------------------------------------------------------------------------


def feature_distributions(
    ref: dict[str, Any], series: pd.Series, *, name: str = "feature"
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Labels and reference / current proportions of every bucket PSI compares, missing included."""
    if ref["kind"] == "numeric":
        values = _numeric_values(name, series, frame="current")
        n_rows = len(values)
        values = values[np.isfinite(values)]
        values.sort()
        ref_props, cur_props = _numeric_distributions(ref, values, n_rows)
        return [*_bin_labels(ref["bin_edges"]), MISSING_LABEL], ref_props, cur_props
    counts = _category_counts(series)
    frequencies: dict[str, float] = ref["frequencies"]
    seen = counts.reindex(list(frequencies), fill_value=0).to_numpy(dtype=float)
    unseen_total = float(counts.sum()) - float(seen.sum())
    ref_props, cur_props = _categorical_distributions(ref, seen, unseen_total, len(series))
    return [*frequencies, UNSEEN_LABEL, MISSING_LABEL], ref_props, cur_props


def _numeric_distributions(
    ref: dict[str, Any], sorted_values: np.ndarray, n_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    missing_ref = float(ref["missing_rate"])
    proportions = np.asarray(ref["bin_proportions"], dtype=float)
    ref_props = np.append(proportions * (1 - missing_ref), missing_ref)
    edges = np.asarray(ref["bin_edges"], dtype=float)
    counts = _bin_counts(sorted_values, edges)
    cur_props = np.append(counts, n_rows - len(sorted_values)) / n_rows
    return ref_props, cur_props


def _categorical_distributions(
    ref: dict[str, Any], seen: np.ndarray, unseen_total: float, n_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    missing_ref = float(ref["missing_rate"])
    frequencies = np.asarray(list(ref["frequencies"].values()), dtype=float)
    ref_props = np.concatenate([frequencies * (1 - missing_ref), [0.0, missing_ref]])
    n_missing = n_rows - seen.sum() - unseen_total
    cur_props = np.concatenate([seen, [unseen_total, n_missing]]) / n_rows
    return ref_props, cur_props


def _bin_labels(edges: list[float]) -> list[str]:
    if not edges:
        return ["all"]
    fmt = [f"{e:.4g}" for e in edges]
    middle = [f"({lo}, {hi}]" for lo, hi in pairwise(fmt)]
    return [f"<= {fmt[0]}", *middle, f"> {fmt[-1]}"]


def _sorted_quantiles(sorted_values: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """``np.quantile``'s default (linear) method on data already sorted, without re-sorting."""
    position = probs * (len(sorted_values) - 1)
    lower = np.floor(position).astype(np.intp)
    upper = np.minimum(lower + 1, len(sorted_values) - 1)
    fraction = position - lower
    return sorted_values[lower] + fraction * (sorted_values[upper] - sorted_values[lower])


def _bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of sorted values in the bins (-inf, e0], (e0, e1], ..., (e_last, inf)."""
    cuts = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(np.concatenate([[0], cuts, [len(sorted_values)]])).astype(float)


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


def population_stability_index(
    reference: np.ndarray, current: np.ndarray, *, epsilon: float = PSI_EPSILON
) -> float:
    """PSI = sum((c - r) * ln(c / r)) over buckets; empty buckets count as ``epsilon``."""
    r = np.maximum(np.asarray(reference, dtype=float), epsilon)
    c = np.maximum(np.asarray(current, dtype=float), epsilon)
    return float(np.sum((c - r) * np.log(c / r)))


def ks_statistic_against_sketch(
    sketch: dict[str, list[float]], n_reference: int, sorted_values: np.ndarray
) -> float:
    """Two-sample KS statistic between a reference sketch and a sorted current sample.

    The reference CDF F is exact at the sketch's knots (both one-sided limits, from the stored
    counts) and linear between them. The current CDF G is a step function, so on each interval
    where G is flat F - G is largest at the interval's right end and G - F at its left end:
    the supremum is attained at the current values, as in the one-sample KS formula
    ``max((i + 1) / n - F(x_i), F(x_i-) - i / n)``, which also holds with ties because the
    last and first copy of a repeated value give the two one-sided limits.
    """
    knots = np.asarray(sketch["values"], dtype=float)
    below = np.asarray(sketch["n_below"], dtype=float) / n_reference
    at_or_below = np.asarray(sketch["n_at_or_below"], dtype=float) / n_reference
    n = len(sorted_values)
    rank = np.arange(n, dtype=float)
    cdf_at = _sketch_cdf(knots, below, at_or_below, sorted_values, side="right")
    # Where no reference value repeats, F has no steps worth more than one row.
    has_steps = bool(np.any(at_or_below - below > 1.5 / n_reference))
    cdf_before = (
        _sketch_cdf(knots, below, at_or_below, sorted_values, side="left") if has_steps else cdf_at
    )
    above = np.max((rank + 1) / n - cdf_at)
    under = np.max(cdf_before - rank / n)
    return float(max(above, under))


def _sketch_cdf(
    knots: np.ndarray,
    below: np.ndarray,
    at_or_below: np.ndarray,
    sorted_x: np.ndarray,
    *,
    side: Literal["left", "right"],
) -> np.ndarray:
    """Reference CDF from the sketch at sorted ``x`` (right) or just below it (left)."""
    # Segment s lies between knots s - 1 and s; segment 0 is below the smallest knot (F = 0),
    # the last is above the largest (F = 1), and each other one is the line from F(knot s - 1)
    # up to F(knot s-). A value on a knot sits at the start of the segment after it (right
    # limit) or at the end of the segment before it (left limit).
    m = len(knots)
    slope = np.zeros(m + 1)
    intercept = np.zeros(m + 1)
    intercept[m] = 1.0
    slope[1:m] = (below[1:] - at_or_below[:-1]) / np.diff(knots)
    intercept[1:m] = at_or_below[:-1] - slope[1:m] * knots[:-1]
    # segment[i] counts the knots at or below x[i] (right) or strictly below it (left). Both
    # arrays are sorted, so locating the few knots among the values and accumulating is far
    # cheaper than searching every value among the knots.
    starts = np.searchsorted(sorted_x, knots, side="left" if side == "right" else "right")
    segment = np.cumsum(np.bincount(starts, minlength=len(sorted_x) + 1)[: len(sorted_x)])
    return intercept[segment] + slope[segment] * sorted_x


def _ks_p_value(statistic: float, n_reference: int, n_current: int) -> float:
    """Asymptotic two-sample KS p-value with Stephens' small-sample correction.

    scipy's exact ``kstwo`` takes tens of milliseconds per call beyond a few thousand rows;
    this is within a few percent of it at every sample size and costs nothing.
    """
    root = math.sqrt(n_reference * n_current / (n_reference + n_current))
    return float(special.kolmogorov((root + 0.12 + 0.11 / root) * statistic))


def _chi2_two_sample(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Chi-squared test of homogeneity of two count vectors over the same categories.

    Two-sample rather than goodness-of-fit because the reference frequencies are estimates
    too: against a small training set, a large batch would otherwise reject on sampling noise.
    With a reference much larger than the batch the expected counts tend to ``n * frequency``.
    """
    table = np.vstack([reference, current])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, float(stats.chi2.sf(statistic, table.shape[1] - 1))


def holm_correction(p_values: list[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values; ``None`` (no test) stays ``None`` and is not counted."""
    index = [i for i, p in enumerate(p_values) if p is not None]
    raw = np.array([p_values[i] for i in index], dtype=float)
    order = np.argsort(raw, kind="stable")
    m = len(raw)
    scaled = np.minimum(1.0, (m - np.arange(m)) * raw[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    out: list[float | None] = [None] * len(p_values)
    for i, p in zip(index, adjusted, strict=True):
        out[i] = float(p)
    return out


# --------------------------------------------------------------------------------------------
# Column access
# --------------------------------------------------------------------------------------------


def _require_columns(data: pd.DataFrame, columns: list[str], *, frame: str) -> None:
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(f"Features missing from the {frame} frame: {missing}")


def _numeric_values(name: str, series: pd.Series, *, frame: str) -> np.ndarray:
    try:
        return series.to_numpy(dtype="float64", na_value=np.nan, copy=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"Numeric feature {name!r} in the {frame} frame has non-numeric values "
            f"(dtype {series.dtype}): {exc}"
        ) from None


def _category_counts(series: pd.Series) -> pd.Series:
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

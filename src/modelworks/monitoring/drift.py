"""Feature and prediction drift: a scoring batch compared with the reference profile.

Effect sizes lead: PSI, Wasserstein distance over the reference standard deviation,
Jensen-Shannon distance, the change of the missing rate and the share of unseen categories do
not grow with the batch, so only they can make a feature critical. KS / chi-squared p-values,
Holm-corrected across features, can only warn: on a million rows every test rejects on
differences nobody cares about, while the effect sizes stay put. The tests still guard the
other side: on a small batch the distribution effect sizes (PSI, Wasserstein, Jensen-Shannon)
are noisy, so they count in full only when the feature's test says the change is not noise,
and the missing-rate change counts only when a two-proportion test on the missing counts,
Holm-corrected together with the other tests, says the same.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from modelworks.monitoring.params import DriftParams, DriftThresholds
from modelworks.monitoring.profile import (
    MISSING_LABEL,
    SCORE_NAME,
    UNSEEN_LABEL,
    bin_counts,
    bin_labels,
    category_counts,
    check_profile,
    require_columns,
    score_profile,
    sorted_finite,
)
from modelworks.monitoring.statistics import (
    chi2_two_sample,
    holm_correction,
    jensen_shannon_distance,
    ks_p_value,
    population_stability_index,
    sketch_distances,
    two_proportion_p_value,
)

Verdict = Literal["ok", "warn", "critical"]
SEVERITY: dict[str, int] = {"ok": 0, "warn": 1, "critical": 2}
# Unseen categories listed per feature in the summary; the count of all of them is reported too.
MAX_UNSEEN_LISTED = 50

# Field order of each feature in the summary; a statistic that does not apply is None.
_FEATURE_KEYS = (
    "feature",
    "kind",
    "verdict",
    "reasons",
    "psi",
    "wasserstein",
    "wasserstein_normalised",
    "js_distance",
    "ks_statistic",
    "ks_p_value",
    "chi2_statistic",
    "chi2_p_value",
    "p_value_corrected",
    "missing_p_value_corrected",
    "missing_rate_reference",
    "missing_rate_current",
    "missing_rate_change",
    "unseen_rate",
    "unseen_categories",
    "n_unseen_categories",
)

# (summary key, name in a reason, threshold prefix in DriftThresholds) of each effect size.
_EFFECT_SIZES = (
    ("psi", "PSI", "psi"),
    ("wasserstein_normalised", "Wasserstein/std", "wasserstein"),
    ("js_distance", "Jensen-Shannon", "js"),
    ("missing_rate_change", "missing-rate change", "missing_rate"),
    ("unseen_rate", "unseen-category rate", "unseen_rate"),
)


# Effect sizes of the distribution's shape, which the KS / chi-squared test judges for noise.
_NOISY_WITHOUT_A_TEST = frozenset({"psi", "wasserstein_normalised", "js_distance"})
# The missing-rate change, which the two-proportion test on the missing counts judges for noise.
_MISSING_RATE = "missing_rate_change"


def compute_drift(
    profile: dict[str, Any], current: pd.DataFrame, params: DriftParams
) -> dict[str, Any]:
    """Compare a batch with the reference profile, feature by feature; return a JSON summary.

    Per feature: PSI over the reference bins (numeric) or categories plus an unseen bucket
    (categorical), in both cases with a missing-value bucket so a jump in the missing rate moves
    PSI. Numeric: KS statistic and p-value, and Wasserstein distance (raw, and over the
    reference standard deviation so one threshold fits every feature), all against the
    reference quantile sketch on non-missing values. Categorical: chi-squared test of
    homogeneity on category counts (unseen categories pooled), Jensen-Shannon distance on the
    PSI buckets, the share of rows in unseen categories and the ``MAX_UNSEEN_LISTED`` most
    frequent of them. Both: missing rates and their change. p-values are Holm-corrected across
    all features of the batch.

    Verdict rule (thresholds from ``params.thresholds``):
      * ``critical`` if any effect size (PSI, Wasserstein/std, Jensen-Shannon, |missing-rate
        change|, unseen-category rate) is at or above its critical threshold;
      * ``warn`` if any is at or above its warn threshold, or the corrected p-value is below
        ``p_value``;
      * ``ok`` otherwise;
    except that an effect size whose test is not significant is sampling noise of a small
    batch: at the critical level it only warns, at the warn level it does not count. The
    distribution effect sizes (PSI, Wasserstein/std, Jensen-Shannon) are judged by the
    feature's KS / chi-squared test, the missing-rate change by a two-proportion test on the
    missing counts (``missing_p_value_corrected``); both sets of p-values are Holm-corrected
    together, across every feature.
    ``reasons`` lists every threshold crossed. ``drift_detected`` is true when any feature is
    critical. Features are sorted by verdict, then PSI, most severe first. ``params.n_bins`` is
    not used here: the bins come from the profile.
    """
    check_profile(profile)
    features: dict[str, dict[str, Any]] = profile["features"]
    require_columns(current, list(features), frame="current")
    if len(current) == 0:
        raise ValueError("The current frame is empty: there is nothing to compare")

    rows = [_drift_feature(name, ref, current[name]) for name, ref in features.items()]
    return drift_summary(rows, profile, len(current), params)


def drift_summary(
    rows: list[dict[str, Any]], profile: dict[str, Any], n_current: int, params: DriftParams
) -> dict[str, Any]:
    """The summary of per-feature statistics (``_drift_feature``'s rows, however they were
    computed): Holm-corrected p-values, a verdict per feature, most severe first."""
    shape = [row["ks_p_value"] if row["kind"] == "numeric" else row["chi2_p_value"] for row in rows]
    # One family of tests: the shape tests and the missing-count tests are corrected together,
    # so watching the missing rate adds no false alarms beyond the family-wise level.
    corrected = holm_correction([*shape, *(row.pop("_missing_p_value") for row in rows)])
    for row, p_shape, p_missing in zip(
        rows, corrected[: len(rows)], corrected[len(rows) :], strict=True
    ):
        test = "KS" if row["kind"] == "numeric" else "chi-squared"
        row["p_value_corrected"] = p_shape
        row["missing_p_value_corrected"] = row["_missing_p_value"] = p_missing
        row["verdict"], row["reasons"] = judge(row, p_shape, f"{test} p (Holm)", params)

    rows.sort(key=lambda row: (SEVERITY[row["verdict"]], row["psi"]), reverse=True)
    ordered = [{key: row.get(key) for key in _FEATURE_KEYS} for row in rows]
    n_warn = sum(row["verdict"] == "warn" for row in ordered)
    n_critical = sum(row["verdict"] == "critical" for row in ordered)
    return {
        "n_reference": int(profile["n_rows"]),
        "n_current": n_current,
        "verdict": "critical" if n_critical else "warn" if n_warn else "ok",
        "drift_detected": n_critical > 0,
        "n_warn": n_warn,
        "n_critical": n_critical,
        "thresholds": params.thresholds.model_dump(),
        "features": ordered,
    }


def prediction_drift(profile: dict[str, Any], scores: Any, params: DriftParams) -> dict[str, Any]:
    """Drift of the model's score distribution against the reference scores; a JSON summary.

    The numeric statistics of ``compute_drift`` (PSI, KS, Wasserstein, missing rate; NaN or
    infinite scores count as missing) under the same verdict rule, with the KS p-value
    uncorrected (one test), plus the mean score on both sides and the proportions in each
    reference bin, for the report's plot.
    """
    ref = score_profile(profile)
    values, n_rows = sorted_finite(SCORE_NAME, scores, "current")
    if n_rows == 0:
        raise ValueError("No current scores: there is nothing to compare")
    result = _numeric_statistics(ref, values, n_rows)
    verdict, reasons = judge(result, result["ks_p_value"], "KS p", params)
    labels, ref_props, cur_props = _numeric_distributions(ref, values, n_rows)
    return {
        "verdict": verdict,
        "reasons": reasons,
        "n_reference": int(ref["count"]),
        "n_current": n_rows,
        "mean_reference": ref["mean"],
        "mean_current": float(values.mean()) if len(values) else None,
        **result,
        "bins": {
            "labels": labels,
            "reference": ref_props.tolist(),
            "current": cur_props.tolist(),
        },
    }


def judge(
    row: dict[str, Any], p_value: float | None, test: str, params: DriftParams
) -> tuple[Verdict, list[str]]:
    """The verdict rule of ``compute_drift`` applied to one row, with every threshold crossed."""
    thresholds: DriftThresholds = params.thresholds
    level = thresholds.p_value
    shape_changed = p_value is None or p_value < level
    missing_p = row.get("_missing_p_value")
    missing_changed = missing_p is not None and missing_p < level
    critical: list[str] = []
    warn: list[str] = []
    for key, label, prefix in _EFFECT_SIZES:
        value = row.get(key)
        if value is None:
            continue
        size = abs(value)
        at_critical = getattr(thresholds, f"{prefix}_critical")
        at_warn = getattr(thresholds, f"{prefix}_warn")
        if key == _MISSING_RATE:
            # Without a missing-count test (a caller's own row) the change counts in full.
            significant = missing_p is None or missing_p < level
            noise = ("missing-count test p", missing_p)
        else:
            # PSI and Jensen-Shannon also see the missing bucket; Wasserstein sees values only.
            significant = shape_changed or (missing_changed and key != "wasserstein_normalised")
            noise = (test, p_value)
        if not significant and (key in _NOISY_WITHOUT_A_TEST or key == _MISSING_RATE):
            if size >= at_critical:
                warn.append(
                    f"warn: {label} {size:.3g} >= {at_critical:g}, "
                    f"but within noise ({noise[0]} {noise[1]:.2g})"
                )
        elif size >= at_critical:
            critical.append(f"critical: {label} {size:.3g} >= {at_critical:g}")
        elif size >= at_warn:
            warn.append(f"warn: {label} {size:.3g} >= {at_warn:g}")
    if p_value is not None and p_value < thresholds.p_value:
        warn.append(f"warn: {test} {p_value:.2g} < {thresholds.p_value:g}")
    verdict: Verdict = "critical" if critical else "warn" if warn else "ok"
    return verdict, critical + warn


# --------------------------------------------------------------------------------------------
# One feature
# --------------------------------------------------------------------------------------------


def _drift_feature(name: str, ref: dict[str, Any], series: pd.Series) -> dict[str, Any]:
    if ref["kind"] == "numeric":
        values, n_rows = sorted_finite(name, series, "current")
        return {"feature": name, "kind": "numeric", **_numeric_statistics(ref, values, n_rows)}
    if ref["kind"] == "categorical":
        statistics = categorical_statistics(ref, category_counts(series), len(series))
        return {"feature": name, "kind": "categorical", **statistics}
    raise ValueError(f"Feature {name!r} has unknown kind {ref['kind']!r} in the profile")


def _numeric_statistics(
    ref: dict[str, Any], sorted_values: np.ndarray, n_rows: int
) -> dict[str, Any]:
    """PSI, KS, Wasserstein and missing rates of one numeric column against its profile."""
    _, ref_props, cur_props = _numeric_distributions(ref, sorted_values, n_rows)
    count, n_reference = len(sorted_values), int(ref["count"])
    ks_statistic = ks_p = wasserstein = normalised = None
    if count and n_reference:
        ks_statistic, wasserstein = sketch_distances(ref["sketch"], n_reference, sorted_values)
        ks_p = ks_p_value(ks_statistic, n_reference, count)
        # A constant reference has no scale: PSI's two bins around the constant judge it.
        normalised = wasserstein / ref["std"] if ref["std"] else None
    return {
        "psi": population_stability_index(ref_props, cur_props),
        "wasserstein": wasserstein,
        "wasserstein_normalised": normalised,
        "ks_statistic": ks_statistic,
        "ks_p_value": ks_p,
        **_missing_rates(ref, n_rows - count, n_rows),
    }


def categorical_statistics(ref: dict[str, Any], counts: pd.Series, n_rows: int) -> dict[str, Any]:
    """PSI, Jensen-Shannon, chi-squared, unseen categories and missing rates of one column.

    ``counts`` are its non-missing values' counts keyed by their string form, in any order
    (``category_counts`` of the whole column, or the sum of its chunks' counts), over ``n_rows``
    rows.
    """
    seen, unseen = _seen_and_unseen(ref, counts)
    unseen_total = float(unseen.sum())
    ref_props, cur_props = _categorical_distributions(ref, seen, unseen_total, n_rows)

    chi2_statistic = chi2_p = None
    if counts.sum() and ref["count"]:
        ref_counts = np.round(np.asarray(list(ref["frequencies"].values())) * ref["count"])
        chi2_statistic, chi2_p = chi2_two_sample(
            np.append(ref_counts, 0.0), np.append(seen, unseen_total)
        )
    n_missing = n_rows - int(counts.sum())
    listed = unseen.sort_values(ascending=False, kind="stable").index[:MAX_UNSEEN_LISTED]
    return {
        "psi": population_stability_index(ref_props, cur_props),
        "js_distance": jensen_shannon_distance(ref_props, cur_props),
        "chi2_statistic": chi2_statistic,
        "chi2_p_value": chi2_p,
        **_missing_rates(ref, n_missing, n_rows),
        "unseen_rate": unseen_total / n_rows,
        "unseen_categories": [str(c) for c in listed],
        "n_unseen_categories": len(unseen),
    }


def _missing_rates(ref: dict[str, Any], n_missing: int, n_rows: int) -> dict[str, float]:
    reference, current = float(ref["missing_rate"]), n_missing / n_rows
    n_reference = ref["count"] / (1 - reference) if reference < 1 else float(n_rows)
    return {
        "missing_rate_reference": reference,
        "missing_rate_current": current,
        "missing_rate_change": current - reference,
        # Internal: whether the missing bucket's change is more than sampling noise.
        "_missing_p_value": two_proportion_p_value(reference, n_reference, current, n_rows),
    }


# --------------------------------------------------------------------------------------------
# Distributions on the reference buckets (shared with the report's plots)
# --------------------------------------------------------------------------------------------


def feature_distributions(
    ref: dict[str, Any], series: pd.Series, *, name: str = "feature"
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Labels and reference / current proportions of every bucket PSI compares, missing included."""
    if ref["kind"] == "numeric":
        values, n_rows = sorted_finite(name, series, "current")
        return _numeric_distributions(ref, values, n_rows)
    seen, unseen = _seen_and_unseen(ref, category_counts(series))
    ref_props, cur_props = _categorical_distributions(ref, seen, float(unseen.sum()), len(series))
    return [*ref["frequencies"], UNSEEN_LABEL, MISSING_LABEL], ref_props, cur_props


def _numeric_distributions(
    ref: dict[str, Any], sorted_values: np.ndarray, n_rows: int
) -> tuple[list[str], np.ndarray, np.ndarray]:
    missing_ref = float(ref["missing_rate"])
    proportions = np.asarray(ref["bin_proportions"], dtype=float)
    ref_props = np.append(proportions * (1 - missing_ref), missing_ref)
    counts = bin_counts(sorted_values, np.asarray(ref["bin_edges"], dtype=float))
    cur_props = np.append(counts, n_rows - len(sorted_values)) / n_rows
    return [*bin_labels(ref["bin_edges"]), MISSING_LABEL], ref_props, cur_props


def _seen_and_unseen(ref: dict[str, Any], counts: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """The counts of the reference's categories, in its order (0 where absent), and the counts
    of the categories it never saw."""
    categories = list(ref["frequencies"])
    seen = counts.reindex(categories, fill_value=0).to_numpy(dtype=float)
    return seen, counts[~counts.index.isin(categories)]


def _categorical_distributions(
    ref: dict[str, Any], seen: np.ndarray, unseen_total: float, n_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    missing_ref = float(ref["missing_rate"])
    frequencies = np.asarray(list(ref["frequencies"].values()), dtype=float)
    ref_props = np.concatenate([frequencies * (1 - missing_ref), [0.0, missing_ref]])
    n_missing = n_rows - seen.sum() - unseen_total
    cur_props = np.concatenate([seen, [unseen_total, n_missing]]) / n_rows
    return ref_props, cur_props

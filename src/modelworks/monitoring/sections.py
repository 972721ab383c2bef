"""The sections of the monitoring report that describe a batch's drift: the feature table with
the distributions of what was flagged, and the drift of the model's score."""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np
import pandas as pd

from modelworks.monitoring.charts import bar_chart_png
from modelworks.monitoring.drift import feature_distributions
from modelworks.monitoring.layout import (
    Section,
    note,
    number,
    p_value,
    verdict_badge,
    verdict_cell,
    worst,
)
from modelworks.monitoring.params import DriftThresholds
from modelworks.monitoring.profile import MISSING_LABEL, UNSEEN_LABEL

# Categories drawn per plot; the rest are summed into one bar so a high-cardinality feature
# still gives a readable chart.
MAX_PLOTTED_CATEGORIES = 20
OTHER_LABEL = "(other)"


def feature_drift_section(
    summary: dict[str, Any],
    profile: dict[str, Any],
    current: pd.DataFrame,
    *,
    heading: str = "Feature drift",
) -> Section:
    """Every feature's statistics and verdict, and reference vs current distributions of the
    features flagged warn or critical (read from ``current``, binned as in ``profile``)."""
    features = summary["features"]
    profiled = profile["features"]
    unknown = [row["feature"] for row in features if row["feature"] not in profiled]
    if unknown:
        raise ValueError(f"Features in the drift summary but not in the profile: {unknown}")
    flagged = [row for row in features if row["verdict"] != "ok"]
    figures = [
        _feature_figure(row, profiled[row["feature"]], current[row["feature"]]) for row in flagged
    ]
    rows = "\n".join(_feature_row(row) for row in features)
    plots = "\n".join(figures) or '<p class="note">No feature was flagged.</p>'
    body = f"""{rule_note(summary.get("thresholds"))}
<table>
<thead><tr><th>Feature</th><th>Kind</th><th>Verdict</th><th>PSI</th><th>Wasserstein/std</th>
<th>Jensen-Shannon</th><th>Test</th><th>Statistic</th><th>p (Holm)</th>
<th>Missing (ref &rarr; current)</th><th>Missing p (Holm)</th><th>Unseen categories</th>
<th>Reasons</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<h3>Distributions of flagged features</h3>
{plots}"""
    return Section(heading, body, worst(features))


def prediction_drift_section(summary: dict[str, Any]) -> Section:
    """The score distribution against the reference's, or why this task has none."""
    prediction = summary.get("prediction_drift")
    if not prediction:
        reason = summary.get("prediction_note") or (
            "Not measured for this task: the monitoring run has no model score to compare."
        )
        return Section("Prediction drift", note(reason))
    bins = prediction["bins"]
    png = bar_chart_png(
        "model score", bins["labels"], np.asarray(bins["reference"]), np.asarray(bins["current"])
    )
    stats = (
        f"PSI {number(prediction['psi'])}, "
        f"Wasserstein/std {number(prediction['wasserstein_normalised'])}, "
        f"KS {number(prediction['ks_statistic'])} (p {p_value(prediction['ks_p_value'])}); "
        "mean score "
        f"{number(prediction['mean_reference'])} &rarr; {number(prediction['mean_current'])}"
    )
    reasons = "; ".join(prediction["reasons"]) or "within thresholds"
    body = f"""<p class="stat">{stats}</p>
<p class="reasons">{escape(reasons)}</p>
<figure><img src="data:image/png;base64,{png}"
alt="Reference and current distribution of the model score"></figure>"""
    return Section("Prediction drift", body, prediction["verdict"])


def rule_note(thresholds: dict[str, Any] | None) -> str:
    """The verdict rule in words, with this run's thresholds."""
    t = DriftThresholds.model_validate(thresholds or {})
    return (
        '<p class="note">critical: an effect size at or above its critical threshold '
        f"(PSI {t.psi_critical:g}, Wasserstein/std {t.wasserstein_critical:g}, "
        f"Jensen-Shannon {t.js_critical:g}, missing-rate change {t.missing_rate_critical:g}, "
        f"unseen-category rate {t.unseen_rate_critical:g}); warn: one at or above its warn "
        f"threshold (PSI {t.psi_warn:g}, Wasserstein/std {t.wasserstein_warn:g}, "
        f"Jensen-Shannon {t.js_warn:g}, missing-rate change {t.missing_rate_warn:g}, "
        f"unseen-category rate {t.unseen_rate_warn:g}) or a Holm-corrected p-value below "
        f"{t.p_value:g}. An effect size counts only when its test says the change is not "
        "noise (KS / chi-squared for the distribution, a two-proportion test on the missing "
        "counts for the missing rate, all Holm-corrected together); statistical tests alone "
        "never make a feature critical: on large batches they reject differences too small "
        "to matter.</p>"
    )


def _feature_row(row: dict[str, Any]) -> str:
    if row["kind"] == "numeric":
        test, statistic = "KS", row["ks_statistic"]
    else:
        test, statistic = "chi-squared", row["chi2_statistic"]
    listed = row.get("unseen_categories") or []
    unseen = ", ".join(listed)
    extra = (row.get("n_unseen_categories") or 0) - len(listed)
    if extra > 0:
        unseen += f" (+{extra} more)"
    if row.get("unseen_rate"):
        unseen = f"{row['unseen_rate']:.1%}: {unseen}"
    missing = f"{row['missing_rate_reference']:.1%} &rarr; {row['missing_rate_current']:.1%}"
    cells = [
        f"<td>{escape(row['feature'])}</td>",
        f"<td>{escape(row['kind'])}</td>",
        verdict_cell(row["verdict"]),
        f'<td class="num">{number(row["psi"])}</td>',
        f'<td class="num">{number(row.get("wasserstein_normalised"))}</td>',
        f'<td class="num">{number(row.get("js_distance"))}</td>',
        f"<td>{test}</td>",
        f'<td class="num">{number(statistic)}</td>',
        f'<td class="num">{p_value(row["p_value_corrected"])}</td>',
        f'<td class="num">{missing}</td>',
        f'<td class="num">{p_value(row.get("missing_p_value_corrected"))}</td>',
        f"<td>{escape(unseen)}</td>",
        f'<td class="reasons">{escape("; ".join(row.get("reasons", [])))}</td>',
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def _feature_figure(row: dict[str, Any], ref: dict[str, Any], series: pd.Series) -> str:
    name = row["feature"]
    labels, ref_props, cur_props = feature_distributions(ref, series, name=name)
    if ref["kind"] == "categorical":
        labels, ref_props, cur_props = _top_categories(labels, ref_props, cur_props)
    png = bar_chart_png(name, labels, ref_props, cur_props)
    caption = f"{name}: {row['verdict']}, PSI {row['psi']:.4f}"
    return (
        f"<figure><h3>{escape(name)} {verdict_badge(row['verdict'])}</h3>"
        f'<img src="data:image/png;base64,{png}" '
        f'alt="{escape(f"Reference and current distribution of {name}")}">'
        f'<figcaption class="note">{escape(caption)}</figcaption></figure>'
    )


def _top_categories(
    labels: list[str], ref_props: np.ndarray, cur_props: np.ndarray
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Keep the categories that weigh most on either side; sum the others into one bar."""
    # The last two buckets are unseen and missing: always shown.
    n_categories = len(labels) - 2
    if n_categories <= MAX_PLOTTED_CATEGORIES:
        return labels, ref_props, cur_props
    weight = np.maximum(ref_props[:n_categories], cur_props[:n_categories])
    keep = np.sort(np.argsort(-weight, kind="stable")[:MAX_PLOTTED_CATEGORIES])
    rest = np.setdiff1d(np.arange(n_categories), keep)
    kept_labels = [labels[i] for i in keep]

    def fold(props: np.ndarray) -> np.ndarray:
        return np.concatenate([props[keep], [props[rest].sum()], props[n_categories:]])

    return (
        [*kept_labels, OTHER_LABEL, UNSEEN_LABEL, MISSING_LABEL],
        fold(ref_props),
        fold(cur_props),
    )

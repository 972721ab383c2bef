"""Monitoring report: one self-contained HTML page (inline CSS, plots as embedded PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from modelworks.monitoring.charts import Z_95, bar_chart_png, trend_png
from modelworks.monitoring.drift import feature_distributions
from modelworks.monitoring.params import DriftThresholds
from modelworks.monitoring.profile import MISSING_LABEL, UNSEEN_LABEL

# Categories drawn per plot; the rest are summed into one bar so a high-cardinality feature
# still gives a readable chart.
MAX_PLOTTED_CATEGORIES = 20
OTHER_LABEL = "(other)"

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2rem;
       color: #1f2933; max-width: 80rem; }
h1 { font-size: 1.5rem; margin-bottom: 0.25rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; }
h3 { font-size: 1rem; margin-bottom: 0.25rem; }
.summary { display: flex; gap: 1.5rem; align-items: center; flex-wrap: wrap; margin: 1rem 0; }
.badge { padding: 0.3rem 0.8rem; border-radius: 0.3rem; font-weight: 600; }
.stat { color: #52606d; }
table { border-collapse: collapse; width: 100%; font-size: 0.85rem; }
th, td { border-bottom: 1px solid #d9e2ec; padding: 0.3rem 0.5rem; text-align: left;
         vertical-align: top; }
th { background: #f0f4f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.ok { background: #e3f9e5; color: #05400a; }
.warn { background: #fff3c4; color: #5c4813; }
.critical { background: #ffe3e3; color: #610404; }
figure { margin: 1rem 0 2rem 0; }
img { max-width: 100%; }
.note { color: #52606d; font-size: 0.85rem; }
.reasons { color: #52606d; font-size: 0.8rem; }
"""

_OVERALL = {
    "critical": "Drift detected",
    "warn": "Warnings, no critical drift",
    "ok": "No drift",
}

# (key, label) of the performance metrics, in table order.
_METRICS = (
    ("roc_auc", "ROC-AUC"),
    ("accuracy", "Accuracy"),
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("positive_rate", "Positive rate (labels)"),
    ("predicted_positive_rate", "Predicted positive rate"),
)


def render_monitoring_report(
    summary: dict[str, Any],
    profile: dict[str, Any],
    current: pd.DataFrame,
    *,
    title: str,
    history: Sequence[dict[str, Any]] = (),
) -> str:
    """Render a ``monitor_batch`` (or ``compute_drift``) summary as one HTML page.

    Sections: overall verdict; estimated vs realised performance and prediction drift when
    the summary has them; a trend over ``history`` (past summaries, oldest first) and this
    one; every feature's statistics and verdict; and reference vs current distributions of
    the features flagged warn or critical (read from ``current``, binned as in the profile).
    """
    features = summary["features"]
    profiled = profile["features"]
    unknown = [row["feature"] for row in features if row["feature"] not in profiled]
    if unknown:
        raise ValueError(f"Features in the drift summary but not in the profile: {unknown}")

    verdict = summary.get("verdict") or _worst(features)
    flagged = [row for row in features if row["verdict"] != "ok"]
    figures = [
        _feature_figure(row, profiled[row["feature"]], current[row["feature"]]) for row in flagged
    ]
    plots = "\n".join(figures) or '<p class="note">No feature was flagged.</p>'
    rows = "\n".join(_feature_row(row) for row in features)
    run = summary.get("run")
    run_badge = f'<span class="stat">run: {escape(str(run))}</span>' if run else ""

    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{escape(title)}</h1>
<div class="summary">
  <span class="badge {verdict}">{_OVERALL[verdict]}</span>
  {run_badge}
  <span class="stat">{summary["n_critical"]} critical</span>
  <span class="stat">{summary["n_warn"]} warn</span>
  <span class="stat">{len(features)} features</span>
  <span class="stat">reference rows: {summary["n_reference"]:,}</span>
  <span class="stat">current rows: {summary["n_current"]:,}</span>
</div>
{_performance_section(summary)}
{_prediction_section(summary.get("prediction_drift"))}
{_trend_section([*history, summary])}
<h2>Features</h2>
{_rule_note(summary.get("thresholds"))}
<table>
<thead><tr><th>Feature</th><th>Kind</th><th>Verdict</th><th>PSI</th><th>Wasserstein/std</th>
<th>Jensen-Shannon</th><th>Test</th><th>Statistic</th><th>p (Holm)</th>
<th>Missing (ref &rarr; current)</th><th>Unseen categories</th><th>Reasons</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<h2>Distributions of flagged features</h2>
{plots}
</body>
</html>
"""


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def _rule_note(thresholds: dict[str, Any] | None) -> str:
    t = DriftThresholds.model_validate(thresholds or {})
    return (
        '<p class="note">critical: an effect size at or above its critical threshold '
        f"(PSI {t.psi_critical:g}, Wasserstein/std {t.wasserstein_critical:g}, "
        f"Jensen-Shannon {t.js_critical:g}, missing-rate change {t.missing_rate_critical:g}, "
        f"unseen-category rate {t.unseen_rate_critical:g}); warn: one at or above its warn "
        f"threshold (PSI {t.psi_warn:g}, Wasserstein/std {t.wasserstein_warn:g}, "
        f"Jensen-Shannon {t.js_warn:g}, missing-rate change {t.missing_rate_warn:g}, "
        f"unseen-category rate {t.unseen_rate_warn:g}) or a Holm-corrected p-value below "
        f"{t.p_value:g}. Statistical tests alone never make a feature critical: on large "
        "batches they reject differences too small to matter.</p>"
    )


def _performance_section(summary: dict[str, Any]) -> str:
    reference = summary.get("reference_performance")
    estimated = summary.get("estimated_performance")
    realised = summary.get("realised_performance")
    note = summary.get("performance_note")
    if not (reference or estimated or realised):
        return f'<h2>Model performance</h2><p class="note">{escape(note)}</p>' if note else ""
    shown = [
        (k, label)
        for k, label in _METRICS
        if any(k in (p or {}) for p in (reference, estimated, realised))
    ]
    if not shown:
        # A task whose metrics the binary table does not name (regression, multiclass): its own.
        keys = [
            k for k, v in (realised or reference or {}).items() if k != "n" and isinstance(v, float)
        ]
        shown = [(k, k) for k in keys]
    rows = []
    for key, label in shown:
        cells = [
            _number(reference.get(key)) if reference else "&ndash;",
            _estimate(estimated, key) if estimated else "&ndash;",
            _number(realised.get(key)) if realised else "&ndash;",
        ]
        rows.append(
            f"<tr><td>{escape(label)}</td>"
            + "".join(f'<td class="num">{c}</td>' for c in cells)
            + "</tr>"
        )
    threshold = next((p.get("threshold") for p in (estimated, realised, reference) if p), None)
    explained = (
        escape(note)
        if note
        else f"""Estimated: expected value over the unknown labels given the batch's calibrated
probabilities (&plusmn; {Z_95} standard errors), valid while the reference calibration holds.
Realised: against the labels, once they arrive."""
    )
    decision = f" Decision threshold {threshold:g}." if threshold is not None else ""
    return f"""<h2>Model performance</h2>
<p class="note">{explained}{decision}</p>
<table>
<thead><tr><th>Metric</th><th>Reference (labelled)</th><th>Estimated</th><th>Realised</th></tr>
</thead>
<tbody>
{"".join(rows)}
</tbody>
</table>"""


def _prediction_section(prediction: dict[str, Any] | None) -> str:
    if not prediction:
        return ""
    verdict = escape(prediction["verdict"])
    bins = prediction["bins"]
    png = bar_chart_png(
        "model score",
        bins["labels"],
        np.asarray(bins["reference"]),
        np.asarray(bins["current"]),
    )
    stats = (
        f"PSI {_number(prediction['psi'])}, "
        f"Wasserstein/std {_number(prediction['wasserstein_normalised'])}, "
        f"KS {_number(prediction['ks_statistic'])} (p {_p_value(prediction['ks_p_value'])}); "
        "mean score "
        f"{_number(prediction['mean_reference'])} &rarr; {_number(prediction['mean_current'])}"
    )
    reasons = "; ".join(prediction["reasons"])
    return f"""<h2>Prediction drift <span class="badge {verdict}">{verdict}</span></h2>
<p class="stat">{stats}</p>
<p class="reasons">{escape(reasons)}</p>
<figure><img src="data:image/png;base64,{png}"
alt="Reference and current distribution of the model score"></figure>"""


def _trend_section(runs: list[dict[str, Any]]) -> str:
    if len(runs) < 2:
        return ""
    labels = [str(run.get("run") or f"#{i + 1}") for i, run in enumerate(runs)]
    rows = []
    for label, run in zip(labels, runs, strict=True):
        verdict = escape(run.get("verdict") or _worst(run["features"]))
        prediction = run.get("prediction_drift") or {}
        realised = run.get("realised_performance") or {}
        cells = [
            f"<td>{escape(label)}</td>",
            f'<td class="{verdict}">{verdict}</td>',
            f'<td class="num">{run["n_critical"]}</td>',
            f'<td class="num">{run["n_warn"]}</td>',
            f'<td class="num">{_number(prediction.get("psi"))}</td>',
            f'<td class="num">{_estimate(run.get("estimated_performance"), "roc_auc")}</td>',
            f'<td class="num">{_number(realised.get("roc_auc"))}</td>',
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    png = trend_png(labels, runs)
    return f"""<h2>Trend over runs</h2>
<figure><img src="data:image/png;base64,{png}" alt="Drift and performance over past runs">
</figure>
<table>
<thead><tr><th>Run</th><th>Verdict</th><th>Critical</th><th>Warn</th><th>Score PSI</th>
<th>ROC-AUC estimated</th><th>ROC-AUC realised</th></tr></thead>
<tbody>
{"".join(rows)}
</tbody>
</table>"""


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
    verdict = escape(row["verdict"])
    cells = [
        f"<td>{escape(row['feature'])}</td>",
        f"<td>{escape(row['kind'])}</td>",
        f'<td class="{verdict}">{verdict}</td>',
        f'<td class="num">{_number(row["psi"])}</td>',
        f'<td class="num">{_number(row.get("wasserstein_normalised"))}</td>',
        f'<td class="num">{_number(row.get("js_distance"))}</td>',
        f"<td>{test}</td>",
        f'<td class="num">{_number(statistic)}</td>',
        f'<td class="num">{_p_value(row["p_value_corrected"])}</td>',
        f'<td class="num">{missing}</td>',
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
        f"<figure><h3>{escape(name)} "
        f'<span class="badge {escape(row["verdict"])}">{escape(row["verdict"])}</span></h3>'
        f'<img src="data:image/png;base64,{png}" '
        f'alt="{escape(f"Reference and current distribution of {name}")}">'
        f'<figcaption class="note">{escape(caption)}</figcaption></figure>'
    )


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------


def _worst(features: list[dict[str, Any]]) -> str:
    verdicts = {row["verdict"] for row in features}
    return next((v for v in ("critical", "warn") if v in verdicts), "ok")


def _number(value: float | None) -> str:
    return "&ndash;" if value is None else f"{value:.4g}"


def _estimate(estimated: dict[str, Any] | None, key: str) -> str:
    """An estimate with its 95% half-width where it has a standard error."""
    if not estimated or estimated.get(key) is None:
        return "&ndash;"
    se = estimated.get(f"{key}_se")
    spread = f" &plusmn; {Z_95 * se:.2g}" if se is not None else ""
    return f"{estimated[key]:.4g}{spread}"


def _p_value(value: float | None) -> str:
    if value is None:
        return "&ndash;"
    return f"{value:.2e}" if value < 1e-3 else f"{value:.3f}"


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

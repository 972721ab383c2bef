"""Drift report: one self-contained HTML page (inline CSS, plots as embedded PNG)."""

from __future__ import annotations

import base64
import io
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from modelworks.monitoring.drift import MISSING_LABEL, UNSEEN_LABEL, feature_distributions

# Categories drawn per plot; the rest are summed into one bar so a high-cardinality feature
# still gives a readable chart.
MAX_PLOTTED_CATEGORIES = 20
OTHER_LABEL = "(other)"

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2rem;
       color: #1f2933; max-width: 72rem; }
h1 { font-size: 1.5rem; margin-bottom: 0.25rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; }
h3 { font-size: 1rem; margin-bottom: 0.25rem; }
.summary { display: flex; gap: 1.5rem; align-items: center; flex-wrap: wrap; margin: 1rem 0; }
.badge { padding: 0.3rem 0.8rem; border-radius: 0.3rem; font-weight: 600; }
.stat { color: #52606d; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #d9e2ec; padding: 0.35rem 0.6rem; text-align: left; }
th { background: #f0f4f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { background: #e3f9e5; color: #05400a; }
.warn { background: #fff3c4; color: #5c4813; }
.critical { background: #ffe3e3; color: #610404; }
figure { margin: 1rem 0 2rem 0; }
img { max-width: 100%; }
.note { color: #52606d; font-size: 0.85rem; }
"""


def render_drift_report(
    summary: dict[str, Any], profile: dict[str, Any], current: pd.DataFrame, *, title: str
) -> str:
    """Render a ``compute_drift`` summary as one HTML page with a plot per warn/critical feature."""
    features = summary["features"]
    profiled = profile["features"]
    unknown = [row["feature"] for row in features if row["feature"] not in profiled]
    if unknown:
        raise ValueError(f"Features in the drift summary but not in the profile: {unknown}")

    if summary["n_critical"]:
        overall, overall_class = "Drift detected", "critical"
    elif summary["n_warn"]:
        overall, overall_class = "Warnings, no critical drift", "warn"
    else:
        overall, overall_class = "No drift", "ok"

    flagged = [row for row in features if row["verdict"] != "ok"]
    figures = [
        _figure_html(row, profiled[row["feature"]], current[row["feature"]]) for row in flagged
    ]
    plots = "\n".join(figures) if figures else '<p class="note">No feature was flagged.</p>'
    rows = "\n".join(_table_row(row) for row in features)

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
  <span class="badge {overall_class}">{escape(overall)}</span>
  <span class="stat">{summary["n_critical"]} critical</span>
  <span class="stat">{summary["n_warn"]} warn</span>
  <span class="stat">{len(features)} features</span>
  <span class="stat">reference rows: {summary["n_reference"]:,}</span>
  <span class="stat">current rows: {summary["n_current"]:,}</span>
</div>
<p class="note">critical: PSI &ge; critical threshold; warn: PSI &ge; warn threshold or
Holm-corrected p-value below the test level. Statistical tests alone never make a feature
critical.</p>
<h2>Features</h2>
<table>
<thead><tr><th>Feature</th><th>Kind</th><th>PSI</th><th>Test</th><th>Statistic</th>
<th>p (corrected)</th><th>Missing (ref &rarr; current)</th><th>Unseen categories</th>
<th>Verdict</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<h2>Distributions of flagged features</h2>
{plots}
</body>
</html>
"""


def _table_row(row: dict[str, Any]) -> str:
    if row["kind"] == "numeric":
        test, statistic = "KS", row["ks_statistic"]
    else:
        test, statistic = "chi-squared", row["chi2_statistic"]
    unseen = ", ".join(row["unseen_categories"])
    extra = row["n_unseen_categories"] - len(row["unseen_categories"])
    if extra > 0:
        unseen += f" (+{extra} more)"
    missing = f"{row['missing_rate_reference']:.1%} &rarr; {row['missing_rate_current']:.1%}"
    verdict = escape(row["verdict"])
    cells = [
        f"<td>{escape(row['feature'])}</td>",
        f"<td>{escape(row['kind'])}</td>",
        f'<td class="num">{row["psi"]:.4f}</td>',
        f"<td>{test}</td>",
        f'<td class="num">{_number(statistic)}</td>',
        f'<td class="num">{_p_value(row["p_value_corrected"])}</td>',
        f'<td class="num">{missing}</td>',
        f"<td>{escape(unseen)}</td>",
        f'<td class="{verdict}">{verdict}</td>',
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def _number(value: float | None) -> str:
    return "&ndash;" if value is None else f"{value:.4g}"


def _p_value(value: float | None) -> str:
    if value is None:
        return "&ndash;"
    return f"{value:.2e}" if value < 1e-3 else f"{value:.3f}"


def _figure_html(row: dict[str, Any], ref: dict[str, Any], series: pd.Series) -> str:
    name = row["feature"]
    labels, ref_props, cur_props = feature_distributions(ref, series, name=name)
    if ref["kind"] == "categorical":
        labels, ref_props, cur_props = _top_categories(labels, ref_props, cur_props)
    png = _bar_chart_png(name, labels, ref_props, cur_props)
    caption = f"{name}: {row['verdict']}, PSI {row['psi']:.4f}"
    return (
        f"<figure><h3>{escape(name)} "
        f'<span class="badge {escape(row["verdict"])}">{escape(row["verdict"])}</span></h3>'
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


def _bar_chart_png(
    name: str, labels: list[str], ref_props: np.ndarray, cur_props: np.ndarray
) -> str:
    # Imported here so that computing drift does not pay for matplotlib; the Figure API with
    # an explicit Agg canvas leaves pyplot's global backend and state untouched.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    x = np.arange(len(labels))
    width = 0.4
    fig = Figure(figsize=(max(6.0, 0.45 * len(labels) + 2), 3.4), dpi=96)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.bar(x - width / 2, ref_props, width, label="reference", color="#627d98")
    ax.bar(x + width / 2, cur_props, width, label="current", color="#f0b429")
    ax.set_xticks(x, [_plain(label) for label in labels], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("proportion of rows")
    ax.set_title(_plain(name), fontsize=10)
    ax.legend(fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _plain(text: str) -> str:
    """Keep matplotlib from reading ``$...$`` in a feature or category name as mathtext."""
    return text.replace("$", r"\$")

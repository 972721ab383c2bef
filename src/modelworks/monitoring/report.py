"""Monitoring report: one self-contained HTML page (inline CSS, plots as embedded PNG) in the
same layout for every task family.

The sections always come in this order, so a reviewer knows where to look whatever the task:
feature drift (a task may split it, as a recommender does into users, catalogue and
popularity), prediction drift, performance (estimated without labels, realised, or a task's
own measure such as the realised uplift on random holdouts; a note where none is measurable),
the retrain decision with every trigger, and the trend over past runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

import pandas as pd

from modelworks.monitoring.charts import Z_95, trend_metric, trend_png
from modelworks.monitoring.layout import (
    Section,
    estimate,
    note,
    number,
    render_page,
    verdict_cell,
    worst,
)
from modelworks.monitoring.sections import feature_drift_section, prediction_drift_section

# (key, label) of the performance metrics of a calibrated binary model, in table order.
_METRICS = (
    ("roc_auc", "ROC-AUC"),
    ("accuracy", "Accuracy"),
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("positive_rate", "Positive rate (labels)"),
    ("predicted_positive_rate", "Predicted positive rate"),
)
NOT_MEASURABLE = "Not measurable for this task."
NO_DECISION = (
    "No retrain decision: this report compares a newly trained model's reference with the "
    "newest batch; the champion's monitoring run decides."
)


def render_monitoring_report(
    summary: dict[str, Any],
    profile: dict[str, Any],
    current: pd.DataFrame,
    *,
    title: str,
    history: Sequence[dict[str, Any]] = (),
    decision: dict[str, Any] | None = None,
) -> str:
    """Render a ``monitor_batch`` (or ``compute_drift``) summary as one HTML page.

    ``profile`` and ``current`` draw the flagged features' distributions; ``history`` holds
    past summaries, oldest first, for the trend; ``decision`` is the retrain decision taken on
    this summary (``scheduling.decision.decide_retrain``), shown with every trigger.
    """
    drift = feature_drift_section(summary, profile, current)
    return render_report(summary, title=title, drift=[drift], history=history, decision=decision)


def render_report(
    summary: dict[str, Any],
    *,
    title: str,
    drift: Sequence[Section],
    history: Sequence[dict[str, Any]] = (),
    decision: dict[str, Any] | None = None,
) -> str:
    """The standard page around a task's own feature ``drift`` sections: prediction drift,
    performance, the retrain decision and the trend follow in the same order for every task."""
    sections = [
        *drift,
        prediction_drift_section(summary),
        performance_section(summary),
        decision_section(decision),
        trend_section([*history, summary]),
    ]
    return render_page(title, summary, sections)


def performance_section(summary: dict[str, Any]) -> Section:
    """Estimated and realised performance against the reference, the task's own measure of
    realised performance (uplift on holdouts), or why none is measurable."""
    reference = summary.get("reference_performance")
    estimated = summary.get("estimated_performance")
    realised = summary.get("realised_performance")
    explained = summary.get("performance_note")
    parts = [note(explained)] if explained else []
    if reference or estimated or realised:
        if not explained:
            parts.append(
                f'<p class="note">Estimated: expected value over the unknown labels given the '
                f"batch's calibrated probabilities (&plusmn; {Z_95} standard errors), valid "
                "while the reference calibration holds. Realised: against the labels, once "
                "they arrive.</p>"
            )
        parts.append(_metrics_table(reference, estimated, realised))
    holdout = summary.get("holdout_uplift")
    if holdout:
        parts.append(_holdout_uplift(holdout))
    if not parts:
        parts.append(note(NOT_MEASURABLE))
    return Section("Performance", "\n".join(parts))


def decision_section(decision: dict[str, Any] | None) -> Section:
    """Whether to retrain, its reasons, and every trigger with its value, threshold and
    outcome, so the page says why a model was or was not retrained."""
    if decision is None:
        return Section("Retrain decision", note(NO_DECISION))
    retrain = bool(decision.get("retrain"))
    verdict = "Retrain" if retrain else "Do not retrain"
    reasons = "".join(f"<li>{escape(str(r))}</li>" for r in decision.get("reasons", []))
    rows = []
    for trigger in decision.get("triggers", []):
        fired = bool(trigger.get("fired"))
        outcome = "fired" if fired else "not fired"
        if fired and not retrain:
            outcome = "fired, held back"
        value = trigger.get("value")
        shown = number(value) if isinstance(value, float) else escape(str(value))
        rows.append(
            f'<tr><td>{escape(str(trigger.get("trigger")))}</td><td class="num">{shown}</td>'
            f"<td>{escape(str(trigger.get('threshold')))}</td><td>{outcome}</td></tr>"
        )
    table = (
        "<table><thead><tr><th>Trigger</th><th>Value</th><th>Threshold</th><th>Outcome</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else note("No trigger was evaluated.")
    )
    facts = f"as of {decision.get('as_of')}, champion v{decision.get('champion_version')}"
    body = f"""<p><strong>{verdict}</strong> <span class="stat">({escape(facts)})</span></p>
<ul class="reasons">{reasons}</ul>
{table}"""
    return Section("Retrain decision", body)


def trend_section(runs: list[dict[str, Any]]) -> Section:
    """Verdicts, score drift, the task's headline metric and the decision over every run."""
    if len(runs) < 2:
        return Section("Trend over runs", note("The first monitoring run: no trend yet."))
    metric, name = trend_metric(runs)
    labels = [str(run.get("run") or f"#{i + 1}") for i, run in enumerate(runs)]
    rows = []
    for label, run in zip(labels, runs, strict=True):
        verdict = run.get("verdict") or worst(run["features"])
        prediction = run.get("prediction_drift") or {}
        realised = run.get("realised_performance") or run.get("holdout_uplift") or {}
        retrain = (run.get("retrain_decision") or {}).get("retrain")
        cells = [
            f"<td>{escape(label)}</td>",
            verdict_cell(verdict),
            f'<td class="num">{run["n_critical"]}</td>',
            f'<td class="num">{run["n_warn"]}</td>',
            f'<td class="num">{number(prediction.get("psi"))}</td>',
            f'<td class="num">{estimate(run.get("estimated_performance"), metric)}</td>',
            f'<td class="num">{number(realised.get(metric))}</td>',
            f"<td>{'&ndash;' if retrain is None else 'yes' if retrain else 'no'}</td>",
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    png = trend_png(labels, runs)
    body = f"""<figure><img src="data:image/png;base64,{png}"
alt="Drift and performance over past runs"></figure>
<table>
<thead><tr><th>Run</th><th>Verdict</th><th>Critical</th><th>Warn</th><th>Score PSI</th>
<th>{escape(name)} estimated</th><th>{escape(name)} realised</th><th>Retrain</th></tr></thead>
<tbody>
{"".join(rows)}
</tbody>
</table>"""
    return Section("Trend over runs", body)


def _metrics_table(
    reference: dict[str, Any] | None,
    estimated: dict[str, Any] | None,
    realised: dict[str, Any] | None,
) -> str:
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
            number(reference.get(key)) if reference else "&ndash;",
            estimate(estimated, key) if estimated else "&ndash;",
            number(realised.get(key)) if realised else "&ndash;",
        ]
        rows.append(
            f"<tr><td>{escape(label)}</td>"
            + "".join(f'<td class="num">{c}</td>' for c in cells)
            + "</tr>"
        )
    threshold = next((p.get("threshold") for p in (estimated, realised, reference) if p), None)
    decided = (
        f'<p class="note">Decision threshold {threshold:g}.</p>' if threshold is not None else ""
    )
    return f"""{decided}<table>
<thead><tr><th>Metric</th><th>Reference (labelled)</th><th>Estimated</th><th>Realised</th></tr>
</thead>
<tbody>
{"".join(rows)}
</tbody>
</table>"""


def _holdout_uplift(holdout: dict[str, Any]) -> str:
    """The realised uplift on the treatment list's random holdouts, overall and per decile."""
    qini = number(holdout.get("qini_coefficient"))
    if holdout.get("qini_coefficient_se") is not None:
        qini += f" &plusmn; {Z_95 * holdout['qini_coefficient_se']:.2g}"
    counts = f"{holdout.get('n_holdout_treated', 0):,} / {holdout.get('n_holdout_control', 0):,}"
    stats = [
        ("holdout rows treated / control", counts),
        ("uplift (treated minus control)", number(holdout.get("uplift"))),
        ("uplift in the top 30 %", number(holdout.get("uplift_at_30"))),
        ("Qini coefficient", qini),
    ]
    rows = "".join(f'<tr><td>{name}</td><td class="num">{v}</td></tr>' for name, v in stats)
    undefined = holdout.get("undefined") or {}
    why = "; ".join(f"{k}: {v}" for k, v in undefined.items())
    deciles = holdout.get("deciles") or []
    columns = list(deciles[0]) if deciles else []
    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{_cell(row[c])}</td>' for c in columns) + "</tr>"
        for row in deciles
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>" if deciles else ""
    return f"""<h3>Realised uplift on the random holdouts</h3>
<table><tbody>{rows}</tbody></table>
{note(why) if why else ""}
{table}"""


def _cell(value: Any) -> str:
    return number(value) if isinstance(value, float) else escape(str(value))

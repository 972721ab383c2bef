"""The one page every monitoring and drift report is laid out on: a header with the model and
the overall verdict, then sections in a fixed order, all with the same verdict badges.

A reviewer moving between a credit model's report and a recommender's should find the same
headings in the same places and read the same three verdicts worded the same way; only the
sections a task has of its own (a recommender's popularity, an uplift's holdouts) differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from modelworks.monitoring.charts import Z_95

# The verdict vocabulary of every report, from calm to alarming.
VERDICTS = ("ok", "warn", "critical")
# What each verdict means, shown beside its badge wherever it appears.
VERDICT_MEANING = {
    "ok": "within every threshold",
    "warn": "a warn threshold crossed, nothing critical",
    "critical": "a critical threshold crossed",
}

CSS = """
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


@dataclass(frozen=True)
class Section:
    """One ``<h2>`` section of a report: its heading, its HTML body and, where it has one, the
    verdict its heading's badge shows."""

    heading: str
    body: str
    verdict: str | None = None


def verdict_badge(verdict: str) -> str:
    """The badge of a verdict, worded the same in every report."""
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}: expected one of {VERDICTS}")
    return (
        f'<span class="badge {verdict}" title="{VERDICT_MEANING[verdict]}">{verdict.upper()}</span>'
    )


def verdict_cell(verdict: str) -> str:
    """A table cell holding a verdict, coloured like its badge."""
    return f'<td class="{escape(verdict)}">{escape(verdict)}</td>'


def render_page(title: str, summary: dict[str, Any], sections: Sequence[Section]) -> str:
    """One self-contained HTML page: the header, then ``sections`` in the order given."""
    body = "\n".join(_section(section) for section in sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<style>{CSS}</style>
</head>
<body>
<h1>{escape(title)}</h1>
{header(summary)}
{body}
</body>
</html>
"""


def header(summary: dict[str, Any]) -> str:
    """Model, version and task, the overall verdict with its meaning, and the batch's size."""
    verdict = summary.get("verdict") or "ok"
    facts = [
        ("model", summary.get("model_name")),
        ("version", summary.get("model_version")),
        ("task", summary.get("task")),
        ("run", summary.get("run")),
    ]
    stats = [f"{name}: {escape(str(value))}" for name, value in facts if value is not None]
    stats += [f"{summary.get('n_critical', 0)} critical", f"{summary.get('n_warn', 0)} warn"]
    for key, name in (("n_reference", "reference rows"), ("n_current", "current rows")):
        if summary.get(key) is not None:
            stats.append(f"{name}: {summary[key]:,}")
    spans = "\n  ".join(f'<span class="stat">{stat}</span>' for stat in stats)
    return f"""<div class="summary">
  <span class="stat">Overall verdict</span> {verdict_badge(verdict)}
  <span class="note">{VERDICT_MEANING[verdict]}</span>
  {spans}
</div>"""


def _section(section: Section) -> str:
    badge = f" {verdict_badge(section.verdict)}" if section.verdict else ""
    return f"<section>\n<h2>{escape(section.heading)}{badge}</h2>\n{section.body}\n</section>"


def note(text: str) -> str:
    """A paragraph of explanation, escaped."""
    return f'<p class="note">{escape(text)}</p>'


def number(value: float | None) -> str:
    """A statistic to four significant digits, a dash where there is none."""
    return "&ndash;" if value is None else f"{value:.4g}"


def estimate(estimated: dict[str, Any] | None, key: str) -> str:
    """An estimate with its 95% half-width where it has a standard error."""
    if not estimated or estimated.get(key) is None:
        return "&ndash;"
    se = estimated.get(f"{key}_se")
    spread = f" &plusmn; {Z_95 * se:.2g}" if se is not None else ""
    return f"{estimated[key]:.4g}{spread}"


def p_value(value: float | None) -> str:
    """A p-value in scientific notation once it is tiny."""
    if value is None:
        return "&ndash;"
    return f"{value:.2e}" if value < 1e-3 else f"{value:.3f}"


def worst(features: Sequence[dict[str, Any]]) -> str:
    """The most severe verdict among rows, ``ok`` for none."""
    verdicts = {row["verdict"] for row in features}
    return next((v for v in ("critical", "warn") if v in verdicts), "ok")

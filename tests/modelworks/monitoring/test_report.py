"""HTML monitoring report: a complete, self-contained page with every section it was given."""

from __future__ import annotations

import base64
import re

import numpy as np
import pandas as pd
import pytest

from modelworks.monitoring import (
    DriftParams,
    build_reference_profile,
    compute_drift,
    monitor_batch,
    render_monitoring_report,
)
from modelworks.monitoring.layout import VERDICTS, verdict_badge

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_frame(n: int, seed: int, *, shift: float = 0.0, p: tuple[float, ...] = (0.6, 0.4)):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "income": rng.normal(50.0 + shift, 10.0, n),
            "tenure": rng.poisson(4.0, n),
            "channel": rng.choice(["web", "branch"], n, p=p).astype(object),
        }
    )


def scores_and_labels(frame: pd.DataFrame, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A score that rises with income, and labels drawn from it."""
    rng = np.random.default_rng(seed)
    scores = 1 / (1 + np.exp(-(frame["income"].to_numpy() - 55.0) / 8.0))
    return scores, rng.random(len(frame)) < scores


def images(html: str) -> list[bytes]:
    found = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    return [base64.b64decode(data) for data in found]


def assert_self_contained(html: str) -> None:
    assert html.startswith("<!DOCTYPE html>")
    assert html.rstrip().endswith("</html>")
    for tag in ("<html", "<head>", "<body>", "</body>", "<table>", "</table>"):
        assert tag in html
    # Nothing fetched from elsewhere: no scripts, stylesheets or remote images.
    assert "<script" not in html
    assert "<link" not in html
    assert not re.search(r"""src=["'](?!data:image/png;base64,)""", html)
    assert all(png.startswith(PNG_MAGIC) for png in images(html))


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return make_frame(5_000, seed=1)


@pytest.fixture(scope="module")
def profile(reference: pd.DataFrame) -> dict:
    return build_reference_profile(reference, numeric=["income", "tenure"], categorical=["channel"])


@pytest.fixture(scope="module")
def scored_profile(reference: pd.DataFrame) -> dict:
    scores, labels = scores_and_labels(reference, seed=2)
    return build_reference_profile(
        reference,
        numeric=["income", "tenure"],
        categorical=["channel"],
        scores=scores,
        labels=labels,
    )


def test_drift_only_report_is_a_complete_self_contained_page(profile: dict) -> None:
    current = make_frame(3_000, seed=2, shift=8.0, p=(0.3, 0.7))
    summary = compute_drift(profile, current, DriftParams())
    html = render_monitoring_report(summary, profile, current, title="Drift <batch 7>")

    assert_self_contained(html)
    assert "Drift &lt;batch 7&gt;" in html
    for name in ("income", "tenure", "channel"):
        assert name in html
    verdicts = {row["feature"]: row["verdict"] for row in summary["features"]}
    assert verdicts == {"income": "critical", "channel": "critical", "tenure": "ok"}
    assert '<td class="critical">critical</td>' in html
    assert '<td class="ok">ok</td>' in html
    assert verdict_badge("critical") in html
    assert "critical: PSI" in html  # the reasons
    # One plot per flagged feature; the other sections say why they have nothing to show.
    assert len(images(html)) == summary["n_warn"] + summary["n_critical"] == 2
    assert "Not measured for this task" in html  # no scores: no prediction drift
    assert "Not measurable for this task" in html  # no performance
    assert "no trend yet" in html
    assert "No retrain decision" in html


def test_report_without_drift_has_no_plots(profile: dict) -> None:
    current = make_frame(3_000, seed=3)
    summary = compute_drift(profile, current, DriftParams())
    html = render_monitoring_report(summary, profile, current, title="Quiet batch")

    assert summary["n_warn"] == summary["n_critical"] == 0
    assert "<img" not in html
    assert verdict_badge("ok") in html
    assert html.count('<td class="ok">ok</td>') == 3


def test_full_report_has_performance_prediction_drift_and_trend(scored_profile: dict) -> None:
    history = []
    for week, shift in enumerate((0.0, 0.0, 6.0)):
        frame = make_frame(2_000, seed=10 + week, shift=shift)
        scores, labels = scores_and_labels(frame, seed=20 + week)
        past = monitor_batch(scored_profile, frame, DriftParams(), scores=scores, run=f"w{week}")
        # Labels arrived later for the first two weeks only.
        if week < 2:
            past["realised_performance"] = monitor_batch(
                scored_profile, frame, DriftParams(), scores=scores, labels=labels
            )["realised_performance"]
        history.append(past)
    current = make_frame(2_000, seed=30, shift=8.0)
    scores, _ = scores_and_labels(current, seed=31)
    summary = monitor_batch(scored_profile, current, DriftParams(), scores=scores, run="w3")
    html = render_monitoring_report(
        summary, scored_profile, current, title="Weekly monitoring", history=history
    )

    assert_self_contained(html)
    assert "<h2>Performance</h2>" in html
    assert "&plusmn;" in html  # the estimate's interval
    assert "Prediction drift" in html
    assert "Trend over runs" in html
    for week in ("w0", "w1", "w2", "w3"):
        assert f"<td>{week}</td>" in html
    flagged = summary["n_warn"] + summary["n_critical"]
    # Flagged features, the score distribution and the trend.
    assert len(images(html)) == flagged + 2


def test_report_escapes_names_and_categories() -> None:
    reference = pd.DataFrame({"a<b>": ["x"] * 50 + ["y"] * 50})
    current = pd.DataFrame({"a<b>": ["x"] * 50 + ["<script>alert(1)</script>"] * 50})
    profile = build_reference_profile(reference, numeric=[], categorical=["a<b>"])
    summary = compute_drift(profile, current, DriftParams())
    html = render_monitoring_report(summary, profile, current, title="t")

    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "a&lt;b&gt;" in html
    assert html.count("<img") == 1


def test_report_plots_many_categories() -> None:
    reference = pd.DataFrame({"c": [f"c{i}" for i in range(60)] * 10})
    current = pd.DataFrame({"c": ["c1"] * 400 + [f"c{i}" for i in range(60)] * 2 + ["$new$"] * 80})
    profile = build_reference_profile(reference, numeric=[], categorical=["c"])
    summary = compute_drift(profile, current, DriftParams())
    html = render_monitoring_report(summary, profile, current, title="t")

    assert summary["features"][0]["verdict"] == "critical"
    assert html.count("<img") == 1
    assert "$new$" in html


def test_summary_naming_an_unprofiled_feature_is_refused(profile: dict) -> None:
    current = make_frame(100, seed=4)
    summary = compute_drift(profile, current, DriftParams())
    summary["features"][0] = summary["features"][0] | {"feature": "ghost"}
    with pytest.raises(ValueError, match=r"\['ghost'\]"):
        render_monitoring_report(summary, profile, current, title="t")


SECTIONS = (
    "Feature drift",
    "Prediction drift",
    "Performance",
    "Retrain decision",
    "Trend over runs",
)


def headings(html: str) -> list[str]:
    """The text of every ``<h2>``, badges left out."""
    return [re.sub(r"<[^>]+>.*", "", h).strip() for h in re.findall(r"<h2>(.*?)</h2>", html)]


def test_every_report_has_the_same_sections_in_the_same_order(
    profile: dict, scored_profile: dict
) -> None:
    current = make_frame(2_000, seed=5, shift=8.0)
    scores, _ = scores_and_labels(current, seed=6)
    drift_only = compute_drift(profile, current, DriftParams())
    monitored = monitor_batch(scored_profile, current, DriftParams(), scores=scores, run="w1")
    for summary, used in ((drift_only, profile), (monitored, scored_profile)):
        html = render_monitoring_report(summary, used, current, title="t")
        assert headings(html) == list(SECTIONS)


def test_the_header_names_the_model_and_the_overall_verdict(scored_profile: dict) -> None:
    current = make_frame(2_000, seed=5, shift=8.0)
    scores, _ = scores_and_labels(current, seed=6)
    summary = monitor_batch(scored_profile, current, DriftParams(), scores=scores) | {
        "model_name": "credit_risk",
        "model_version": "3",
        "task": "binary_classification",
    }
    html = render_monitoring_report(summary, scored_profile, current, title="t")
    header = html.split('<div class="summary">', 1)[1].split("</div>", 1)[0]

    assert "model: credit_risk" in header and "version: 3" in header
    assert "task: binary_classification" in header
    assert verdict_badge(summary["verdict"]) in header


def test_badges_use_one_vocabulary(scored_profile: dict) -> None:
    current = make_frame(2_000, seed=5, shift=8.0)
    scores, _ = scores_and_labels(current, seed=6)
    summary = monitor_batch(scored_profile, current, DriftParams(), scores=scores)
    html = render_monitoring_report(summary, scored_profile, current, title="t")

    badges = re.findall(r'<span class="badge (\w+)"[^>]*>([^<]*)</span>', html)
    assert badges and all(cls in VERDICTS and text == cls.upper() for cls, text in badges)
    with pytest.raises(ValueError, match="unknown verdict"):
        verdict_badge("Drift detected")


def test_the_retrain_decision_shows_every_trigger_and_its_reasons(profile: dict) -> None:
    current = make_frame(2_000, seed=5, shift=8.0)
    summary = compute_drift(profile, current, DriftParams())
    decision = {
        "retrain": False,
        "reasons": ["drift fired, but the last retrain was 2.0 days ago"],
        "triggers": [
            {"trigger": "drift", "fired": True, "value": "critical", "threshold": ">= critical"},
            {"trigger": "age", "fired": False, "value": 12.5, "threshold": "> 90 days"},
        ],
        "as_of": "2024-03-01T00:00:00+00:00",
        "champion_version": "2",
    }
    html = render_monitoring_report(summary, profile, current, title="t", decision=decision)
    section = html.split("<h2>Retrain decision</h2>", 1)[1].split("</section>", 1)[0]

    assert "Do not retrain" in section
    assert "the last retrain was 2.0 days ago" in section
    assert "<td>drift</td>" in section and "fired, held back" in section
    assert "<td>age</td>" in section and "12.5" in section and "&gt; 90 days" in section
    assert "not fired" in section


def test_a_task_without_an_estimate_says_why(scored_profile: dict) -> None:
    current = make_frame(1_000, seed=5)
    summary = compute_drift(scored_profile, current, DriftParams()) | {
        "performance_note": "Performance is not estimated before labels arrive.",
        "holdout_uplift": {
            "n_holdout_treated": 120,
            "n_holdout_control": 130,
            "uplift": 0.04,
            "uplift_at_30": 0.07,
            "qini_coefficient": 0.12,
            "qini_coefficient_se": 0.03,
            "undefined": {},
            "deciles": [{"decile": 1, "uplift": 0.1, "n_treated": 12, "n_control": 13}],
        },
    }
    html = render_monitoring_report(summary, scored_profile, current, title="t")
    section = html.split("<h2>Performance</h2>", 1)[1].split("</section>", 1)[0]

    assert "Performance is not estimated before labels arrive." in section
    assert "Realised uplift on the random holdouts" in section
    assert "120 / 130" in section and "0.12 &plusmn;" in section

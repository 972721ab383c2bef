"""HTML drift report: a complete, self-contained page with a plot per flagged feature."""

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
    render_drift_report,
)

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


@pytest.fixture(scope="module")
def profile() -> dict:
    return build_reference_profile(
        make_frame(5_000, seed=1), numeric=["income", "tenure"], categorical=["channel"]
    )


def test_report_is_a_complete_self_contained_page(profile: dict) -> None:
    current = make_frame(3_000, seed=2, shift=8.0, p=(0.3, 0.7))
    summary = compute_drift(profile, current, DriftParams())
    html = render_drift_report(summary, profile, current, title="Drift <batch 7>")

    assert html.startswith("<!DOCTYPE html>")
    assert html.rstrip().endswith("</html>")
    for tag in ("<html", "<head>", "<body>", "</body>", "<table>", "</table>"):
        assert tag in html
    # Nothing fetched from elsewhere: no scripts, stylesheets or remote images.
    assert "<script" not in html
    assert "<link" not in html
    assert not re.search(r"""src=["'](?!data:image/png;base64,)""", html)
    assert "Drift &lt;batch 7&gt;" in html

    for name in ("income", "tenure", "channel"):
        assert name in html
    verdicts = {row["feature"]: row["verdict"] for row in summary["features"]}
    assert verdicts == {"income": "critical", "channel": "critical", "tenure": "ok"}
    assert '<td class="critical">critical</td>' in html
    assert '<td class="ok">ok</td>' in html
    assert "Drift detected" in html

    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == summary["n_warn"] + summary["n_critical"] == 2
    assert all(base64.b64decode(data).startswith(PNG_MAGIC) for data in images)


def test_report_without_drift_has_no_plots(profile: dict) -> None:
    current = make_frame(3_000, seed=3)
    summary = compute_drift(profile, current, DriftParams())
    html = render_drift_report(summary, profile, current, title="Quiet batch")

    assert summary["n_warn"] == summary["n_critical"] == 0
    assert "<img" not in html
    assert "No drift" in html
    assert html.count('<td class="ok">ok</td>') == 3


def test_report_escapes_names_and_categories() -> None:
    reference = pd.DataFrame({"a<b>": ["x"] * 50 + ["y"] * 50})
    current = pd.DataFrame({"a<b>": ["x"] * 50 + ["<script>alert(1)</script>"] * 50})
    profile = build_reference_profile(reference, numeric=[], categorical=["a<b>"])
    summary = compute_drift(profile, current, DriftParams())
    html = render_drift_report(summary, profile, current, title="t")

    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "a&lt;b&gt;" in html
    assert html.count("<img") == 1


def test_report_plots_many_categories() -> None:
    reference = pd.DataFrame({"c": [f"c{i}" for i in range(60)] * 10})
    current = pd.DataFrame({"c": ["c1"] * 400 + [f"c{i}" for i in range(60)] * 2 + ["$new$"] * 80})
    profile = build_reference_profile(reference, numeric=[], categorical=["c"])
    summary = compute_drift(profile, current, DriftParams())
    html = render_drift_report(summary, profile, current, title="t")

    assert summary["features"][0]["verdict"] == "critical"
    assert html.count("<img") == 1
    assert "$new$" in html

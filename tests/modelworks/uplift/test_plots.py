"""Uplift figures: titles, series and reference lines a reader relies on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from modelworks.training import FeatureSpec
from modelworks.uplift import (
    explain_uplift,
    qini_coefficient,
    qini_figure,
    revenue_uplift_by_decile,
    revenue_uplift_by_decile_figure,
    uplift_by_decile,
    uplift_by_decile_figure,
    uplift_segments_figure,
)

RNG = np.random.default_rng(0)
N = 400
TREATMENT = RNG.integers(0, 2, N)
SCORE = RNG.normal(size=N)
OUTCOME = (RNG.random(N) < 0.3 + 0.2 * TREATMENT * (SCORE > 0)).astype(int)
VALUE = OUTCOME * 1_000.0


def _legend(figure: Figure) -> list[str]:
    return [text.get_text() for text in figure.axes[0].get_legend().get_texts()]


def test_qini_figure_shows_the_coefficient_and_the_random_line(tmp_path):
    figure = qini_figure(OUTCOME, TREATMENT, SCORE, label="t_learner")
    assert isinstance(figure, Figure)
    coefficient = qini_coefficient(OUTCOME, TREATMENT, SCORE)
    assert figure.axes[0].get_title() == f"Qini (coefficient {coefficient:.3f})"
    assert _legend(figure) == ["t_learner", "random"]
    assert "perfect" in _legend(
        qini_figure(OUTCOME, TREATMENT, SCORE, label="m", show_perfect=True)
    )
    figure.savefig(tmp_path / "qini.png")  # renders without pyplot
    assert (tmp_path / "qini.png").stat().st_size > 0


def test_decile_figure_draws_one_bar_per_decile():
    figure = uplift_by_decile_figure(uplift_by_decile(OUTCOME, TREATMENT, SCORE))
    ax = figure.axes[0]
    assert len(ax.patches) == 10
    assert ax.get_title() == "Uplift by decile of predicted uplift"
    assert [tick.get_text() for tick in ax.get_xticklabels()] == [str(d) for d in range(1, 11)]


def test_revenue_decile_figure_draws_the_cost_line():
    table = revenue_uplift_by_decile(VALUE, TREATMENT, SCORE * 100)
    figure = revenue_uplift_by_decile_figure(table, cost=60.0)
    assert "cost per treatment (60)" in _legend(figure)
    cost_line = [line for line in figure.axes[0].get_lines() if line.get_label().startswith("cost")]
    assert cost_line[0].get_ydata()[0] == pytest.approx(60.0)


def test_decile_figures_name_a_missing_column():
    with pytest.raises(ValueError, match="lacks column 'value_uplift'"):
        revenue_uplift_by_decile_figure(uplift_by_decile(OUTCOME, TREATMENT, SCORE), cost=1.0)


def test_segments_figure_labels_bars_with_rules():
    X = pd.DataFrame({"score": SCORE, "noise": RNG.normal(size=N)})
    explanation = explain_uplift(
        X,
        0.1 * (SCORE > 0),
        features=FeatureSpec(numeric=["score", "noise"]),
        max_depth=1,
        treatment=TREATMENT,
        outcome=OUTCOME,
    )
    figure = uplift_segments_figure(explanation)
    ax = figure.axes[0]
    texts = [tick.get_text() for tick in ax.get_yticklabels()]
    labels = dict(zip(ax.get_yticks(), texts, strict=True))
    assert len(labels) == 2
    assert labels[max(labels)].startswith("score > ")  # segment 1, the largest uplift, on top
    assert "realised" in _legend(figure)
    assert ax.get_title() == f"Who is persuadable (tree R\u00b2 {explanation.r_squared:.2f})"

"""Each family's per-row loss for the live test (bounded in [0, 1]), and recency weights."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from modelworks.tasks import get_task
from modelworks.tasks.params import Recency
from modelworks.training.recency import recency_weights, recent_rows

PARAMS = SimpleNamespace(label="y")


def test_binary_loss_is_the_brier_score_of_each_row() -> None:
    rows = pd.DataFrame({"y": [0, 1, 1]})
    losses = get_task("binary_classification").live_losses(rows, np.array([0.2, 0.9, 0.0]), PARAMS)
    assert losses == pytest.approx([0.04, 0.01, 1.0])


def test_multiclass_loss_is_half_the_brier_score_and_an_unseen_class_a_miss() -> None:
    rows = pd.DataFrame({"y": ["a", "b", "c"]})
    predictions = pd.DataFrame({"a": [1.0, 0.5, 0.5], "b": [0.0, 0.5, 0.5]})
    losses = get_task("multiclass_classification").live_losses(rows, predictions, PARAMS)
    # exact; half-right; class "c" never seen: 0.5 * (0.25 + 0.25 + 1)
    assert losses == pytest.approx([0.0, 0.25, 0.75])


def test_regression_loss_needs_a_scale_and_is_capped() -> None:
    task = get_task("regression")
    rows = pd.DataFrame({"y": [10.0, 10.0, 10.0]})
    predictions = np.array([10.0, 12.0, 30.0])
    assert task.live_losses(rows, predictions, PARAMS, scale=4.0) == pytest.approx([0.0, 0.25, 1.0])
    with pytest.raises(ValueError, match="loss_scale"):
        task.live_losses(rows, predictions, PARAMS)


@pytest.mark.parametrize("family", ["ranking", "uplift"])
def test_families_without_a_per_row_loss_say_so(family: str) -> None:
    task = get_task(family)
    assert task.live_loss is None
    assert task.live_losses(pd.DataFrame({"y": [1]}), np.array([0.5]), PARAMS) is None


def test_recency_halves_a_row_per_half_life_and_a_window_drops_older_rows() -> None:
    times = pd.Series(pd.to_datetime(["2026-01-01", "2026-01-31", "2026-03-02"], utc=True))
    weights = recency_weights(times, Recency(half_life_days=30))
    assert weights == pytest.approx([0.25, 0.5, 1.0])
    assert recency_weights(times, Recency(window_days=10)) is None
    rows = pd.DataFrame({"t": times, "x": [1, 2, 3]})
    assert recent_rows(rows, "t", Recency(window_days=31))["x"].tolist() == [2, 3]
    assert recent_rows(rows, "t", None) is rows
    with pytest.raises(ValueError, match="half_life_days, window_days or both"):
        Recency()

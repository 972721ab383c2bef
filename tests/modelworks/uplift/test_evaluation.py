"""The gate's uplift evaluator: found by task, paired metrics on resampled rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelworks.registry.evaluation import evaluator_for
from modelworks.uplift import qini_coefficient, uplift_at_k
from modelworks.uplift.evaluation import TREATMENT_COLUMN, UpliftEvaluator, evidence_rows

ROWS = pd.DataFrame(
    {
        "called": [1, 0, 1, 0, 1, 0, 1, 0],
        "repaid": [1, 0, 1, 1, 0, 0, 0, 1],
    }
)
SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])


def test_the_registry_finds_the_uplift_evaluator_by_task():
    evaluator = evaluator_for({"task": "uplift", "label": "repaid"})
    assert isinstance(evaluator, UpliftEvaluator) and evaluator.outcome == "repaid"


def test_metrics_are_computed_on_the_resampled_rows():
    frame = evidence_rows(ROWS, treatment="called")
    assert (frame[TREATMENT_COLUMN] == ROWS["called"]).all()
    evaluator = UpliftEvaluator("repaid")
    everything = np.arange(len(frame))
    qini = evaluator.metric("qini_coefficient", frame, SCORES)
    assert qini(everything) == pytest.approx(
        qini_coefficient(ROWS["repaid"], ROWS["called"], SCORES)
    )
    resample = np.array([0, 0, 1, 2, 3, 3, 5, 7])
    expected = uplift_at_k(
        ROWS["repaid"].to_numpy()[resample],
        ROWS["called"].to_numpy()[resample],
        SCORES[resample],
        0.5,
    )
    assert evaluator.metric("uplift_at_50", frame, SCORES)(resample) == pytest.approx(expected)
    assert evaluator.n_units(frame) == 8 and evaluator.higher_is_better("qini_coefficient")


def test_what_the_evaluator_cannot_judge_is_named():
    evaluator = UpliftEvaluator("repaid")
    with pytest.raises(ValueError, match="no uplift metric 'roc_auc'"):
        evaluator.metric("roc_auc", evidence_rows(ROWS, treatment="called"), SCORES)
    with pytest.raises(ValueError, match=r"lacks the columns \['treatment'\]"):
        evaluator.metric("qini_coefficient", ROWS, SCORES)
    with pytest.raises(ValueError, match="that is not its treatment"):
        evidence_rows(ROWS.assign(treatment=1), treatment="called")

"""The uplift task family's answers to the lifecycle, on rows with a known uplift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelworks.tasks import Fit, get_task
from modelworks.tasks.uplift import Uplift
from modelworks.uplift.params import UpliftTrainingParams
from modelworks.uplift.serving import OUTPUT_COLUMNS
from tests.modelworks.uplift.synthetic import PARAMS as MODEL_PARAMS
from tests.modelworks.uplift.synthetic import synthetic

PARAMS = UpliftTrainingParams.model_validate(
    {
        "treatment": "called",
        "outcome": "repaid",
        "value": "amount",
        "value_at_stake": "owed",
        "treatment_cost": 10.0,
        "time_column": "t",
        "holdout_days": 10,
        "n_splits": 3,
        "seed": 0,
        "features": {"numeric": ["x1", "x2", "x3"], "categorical": ["segment"]},
        "candidates": {
            "t_lightgbm": {
                "learner": "t_learner",
                "adapter": "lightgbm",
                "max_rounds": 300,
                "early_stopping_rounds": 20,
                "params": MODEL_PARAMS["lightgbm"],
            }
        },
    }
)
TASK = Uplift()


@pytest.fixture(scope="module")
def rows() -> tuple[pd.DataFrame, np.ndarray]:
    data, true_uplift = synthetic(3_000, 7)
    owed = np.random.default_rng(7).lognormal(4.0, 0.4, len(data))
    frame = data.X.assign(
        t=pd.Timestamp("2024-01-01", tz="UTC"),
        called=data.treatment,
        repaid=data.outcome,
        owed=owed,
        amount=np.where(data.outcome == 1, owed, 0.0),
    )
    return frame, true_uplift


def test_the_family_is_found_by_name_and_selects_by_qini():
    assert isinstance(get_task("uplift"), Uplift)
    assert PARAMS.metric == "qini_coefficient" and PARAMS.label == "repaid"
    assert set(TASK.metrics) == {
        "qini_coefficient",
        "qini_area",
        "uplift_at_10",
        "uplift_at_30",
        "uplift_at_50",
    }
    assert all(TASK.higher_is_better(metric) for metric in TASK.metrics)


def test_folds_early_stop_on_their_own_fitting_rows_and_rank_by_true_uplift(rows):
    frame, true_uplift = rows
    candidate = PARAMS.candidates["t_lightgbm"]
    context = TASK.prepare(frame, PARAMS)
    out_of_fold = np.full(len(frame), np.nan)
    qinis, rounds = [], []
    for fit_rows, scored_rows in TASK.folds(frame, PARAMS):
        fitting, scored = frame.iloc[fit_rows], frame.iloc[scored_rows]
        keep, stop = TASK.stopping_split(fitting, PARAMS)
        assert set(fitting.index[stop]).isdisjoint(scored.index)
        fitted = TASK.fit(
            Fit(candidate, fitting.iloc[keep], PARAMS, context, valid=fitting.iloc[stop])
        )
        predictions = TASK.predict(fitted, scored, context)
        assert list(predictions.columns) == list(OUTPUT_COLUMNS)
        metrics = TASK.evaluate(scored, predictions, PARAMS)
        assert metrics["n_treated"] + metrics["n_control"] == len(scored)
        assert {"revenue_qini_coefficient", "profitable_fraction", "ate"} <= set(metrics)
        qinis.append(metrics["qini_coefficient"])
        rounds.append(TASK.rounds(fitted))
        out_of_fold[scored_rows] = TASK.monitored_scores(predictions)
    assert np.mean(qinis) > 0 and min(rounds) >= 1
    assert np.corrcoef(out_of_fold, true_uplift)[0, 1] > 0.3
    # the refit trains both of the T-learner's classifiers for the rounds the folds kept
    refit = TASK.fit(Fit(candidate, frame, PARAMS, context, n_rounds=int(np.mean(rounds))))
    assert set(refit.best_iterations.values()) == {int(np.mean(rounds))}


def test_scoring_columns_and_gate_rows(rows):
    frame, _ = rows
    predictions = pd.DataFrame(
        {column: np.linspace(-0.5, 0.5, len(frame)) for column in OUTPUT_COLUMNS}
    )
    columns = TASK.scoring_columns(predictions)
    assert set(columns) == {"score", *OUTPUT_COLUMNS}
    np.testing.assert_array_equal(columns["score"], predictions["uplift"])
    assert TASK.score_range() == (-1.0, 1.0)
    evidence, label = TASK.gate_rows(frame, PARAMS)
    assert label == "repaid" and (evidence["treatment"] == frame["called"]).all()
    assert TASK.evaluator({"label": "repaid"}).outcome == "repaid"


def test_realised_performance_needs_a_randomised_labelled_batch(rows):
    frame, _ = rows
    predictions = pd.DataFrame({column: np.zeros(len(frame)) for column in OUTPUT_COLUMNS})
    predictions["uplift"] = np.random.default_rng(0).normal(size=len(frame))
    realised = TASK.realised_performance(frame, predictions, PARAMS)
    assert realised is not None and realised["n"] == len(frame)
    unlabelled = frame.drop(columns=["repaid"])
    assert TASK.realised_performance(unlabelled, predictions, PARAMS) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["owed"]), r"lack the experiment's column\(s\) \['owed'\]"),
        (lambda f: f.assign(called=2), r"'called' of the training rows must hold 0/1"),
        (lambda f: f.assign(called=1), r"training rows hold treatment values \{1: \d+\}"),
        (lambda f: f.head(0), "rows are empty"),
    ],
)
def test_rows_that_cannot_be_trained_on_are_named(rows, change, message):
    with pytest.raises(ValueError, match=message):
        TASK.check_rows(change(rows[0]), PARAMS, role="training")

"""Cross-validation folds that always hold both arms, and CV on uplift metrics."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest

from modelworks.uplift import (
    UpliftCandidateParams,
    cross_validate_uplift,
    fit_uplift_model,
    uplift_folds,
)
from tests.modelworks.uplift.synthetic import FEATURES, PARAMS, synthetic


def test_every_fold_holds_both_arms_even_when_treatment_and_outcome_are_rare():
    rng = np.random.default_rng(3)
    n = 2_000
    treatment = (rng.random(n) < 0.08).astype(int)  # 8 % treated
    outcome = (rng.random(n) < 0.05 + 0.05 * treatment).astype(int)  # 5-10 % positive
    folds = uplift_folds(treatment, outcome, n_splits=5, seed=0)
    assert len(folds) == 5
    seen = np.concatenate([valid for _, valid in folds])
    assert sorted(seen) == list(range(n))  # every row validated exactly once
    for fit_rows, valid_rows in folds:
        assert set(treatment[valid_rows]) == {0, 1}
        assert set(treatment[fit_rows]) == {0, 1}
        for arm in (0, 1):  # each arm's classifier sees both outcomes
            assert set(outcome[fit_rows][treatment[fit_rows] == arm]) == {0, 1}
        # stratified: the treated share of each fold is the overall share, to a row
        assert abs(treatment[valid_rows].sum() - treatment.sum() / 5) <= 1


def test_folds_refuse_a_cell_too_small_for_the_number_of_folds():
    treatment = np.array([1] * 3 + [0] * 20)
    outcome = np.array([1, 0, 0] + [0, 1] * 10)  # a single treated row with outcome 1
    with pytest.raises(ValueError, match="treated/1"):
        uplift_folds(treatment, outcome, n_splits=3, seed=0)


def test_cross_validation_reports_uplift_metrics_rounds_and_out_of_fold_predictions():
    data, true_uplift = synthetic(2_000, 7)
    candidate = UpliftCandidateParams(
        adapter="lightgbm",
        learner="t_learner",
        params=PARAMS["lightgbm"],
        max_rounds=300,
        early_stopping_rounds=20,
    )
    result = cross_validate_uplift(data, features=FEATURES, candidate=candidate, n_splits=3, seed=0)
    assert len(result.folds) == 3
    assert {"qini_coefficient", "uplift_at_30", "rounds_control", "rounds_treated"} <= set(
        result.folds[0]
    )
    assert {"qini_coefficient_mean", "qini_coefficient_std"} <= set(result.summary)
    assert result.summary["qini_coefficient_mean"] > 0  # better than random on every fold's mean
    assert set(result.rounds) == {"control", "treated"} and min(result.rounds.values()) >= 1
    assert np.isfinite(result.out_of_fold).all()
    assert np.corrcoef(result.out_of_fold, true_uplift)[0, 1] > 0.3
    # the rounds are the refit budget
    final = fit_uplift_model(
        data,
        features=FEATURES,
        candidate=candidate,
        seed=0,
        n_rounds=result.rounds,
    )
    assert final.best_iterations == result.rounds


def test_each_fold_runs_inside_its_scope_and_reports_its_rows():
    data, _ = synthetic(600, 1)
    candidate = UpliftCandidateParams(
        adapter="lightgbm", learner="s_learner", params=PARAMS["lightgbm"], max_rounds=20
    )
    events: list[tuple] = []

    @contextmanager
    def scope(fold: int):
        events.append(("enter", fold))
        yield
        events.append(("exit", fold))

    def report(fold, valid, metrics):
        events.append(
            ("fold", fold, len(valid), set(valid.treatment), "qini_coefficient" in metrics)
        )

    cross_validate_uplift(
        data,
        features=FEATURES,
        candidate=candidate,
        n_splits=2,
        seed=0,
        fold_scope=scope,
        on_fold=report,
    )
    assert [e[:2] for e in events] == [
        ("enter", 0),
        ("fold", 0),
        ("exit", 0),
        ("enter", 1),
        ("fold", 1),
        ("exit", 1),
    ]
    reports = [e for e in events if e[0] == "fold"]
    assert sum(e[2] for e in reports) == len(data)
    assert all(e[3] == {0, 1} and e[4] for e in reports)

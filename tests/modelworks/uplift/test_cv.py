"""Cross-validation folds and early-stopping splits that always hold both arms."""

from __future__ import annotations

import numpy as np
import pytest

from modelworks.uplift import uplift_folds, uplift_stopping_split


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


def test_the_early_stopping_rows_hold_every_cell_on_both_sides():
    rng = np.random.default_rng(4)
    n = 1_000
    treatment = (rng.random(n) < 0.3).astype(int)
    outcome = (rng.random(n) < 0.2).astype(int)
    fit, stop = uplift_stopping_split(treatment, outcome, fraction=0.2, seed=0)
    assert len(stop) == 200 and sorted([*fit, *stop]) == list(range(n))
    for rows in (fit, stop):
        cells = set(zip(treatment[rows], outcome[rows], strict=True))
        assert cells == {(0, 0), (0, 1), (1, 0), (1, 1)}
        assert abs(treatment[rows].mean() - treatment.mean()) < 0.01
    again = uplift_stopping_split(treatment, outcome, fraction=0.2, seed=0)
    assert (again[1] == stop).all()

"""The persuadable-segments tree: readable rules that find where the uplift is."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelworks.training import FeatureSpec
from modelworks.uplift import explain_uplift

FEATURES = FeatureSpec(numeric=["sessions", "age"], categorical=["job"])


def rows(n: int = 4_000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Uplift 0.20 for inactive teachers, 0.08 for other inactive users, 0 for active users."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "sessions": rng.poisson(2.0, n).astype(float),
            "age": rng.integers(18, 70, n),
            "job": rng.choice(["teacher", "farmer", "trader"], n),
        }
    )
    inactive = X["sessions"] <= 1
    uplift = np.where(inactive, np.where(X["job"] == "teacher", 0.20, 0.08), 0.0)
    return X, uplift + rng.normal(0, 0.01, n)


def test_segments_find_the_persuadable_and_say_who_they_are():
    X, uplift = rows()
    explanation = explain_uplift(X, uplift, features=FEATURES, max_depth=2)
    segments = explanation.segments
    assert list(segments.columns) == [
        "segment",
        "rule",
        "rows",
        "share",
        "predicted_uplift",
    ]
    top = segments.iloc[0]
    assert top["rule"] == "sessions <= 1.5 and job = teacher"
    assert top["predicted_uplift"] == pytest.approx(0.20, abs=0.005)
    assert segments["predicted_uplift"].is_monotonic_decreasing
    assert segments["rows"].sum() == len(X)
    assert segments["share"].sum() == pytest.approx(1.0)
    assert explanation.r_squared > 0.95
    importance = explanation.importance
    assert importance.idxmax() == "sessions" and importance["age"] < 0.01
    assert importance.sum() == pytest.approx(1.0)


def test_rules_merge_bounds_and_list_excluded_categories():
    X, uplift = rows()
    segments = explain_uplift(X, uplift, features=FEATURES, max_depth=3).segments
    rules = " | ".join(segments["rule"])
    assert "job != teacher" in rules or "job not in {farmer, trader}" in rules
    for rule in segments["rule"]:  # one condition per feature, however many splits it took
        assert rule.count("sessions") <= 1 and rule.count("job") <= 1


def test_realised_uplift_per_segment_when_outcomes_are_given():
    X, uplift = rows()
    rng = np.random.default_rng(1)
    treatment = (rng.random(len(X)) < 0.5).astype(int)
    outcome = (rng.random(len(X)) < 0.3 + treatment * uplift).astype(int)
    segments = explain_uplift(
        X, uplift, features=FEATURES, max_depth=2, treatment=treatment, outcome=outcome
    ).segments
    assert {"n_treated", "n_control", "realised_uplift"} <= set(segments.columns)
    top = segments.iloc[0]
    assert top["realised_uplift"] == pytest.approx(top["predicted_uplift"], abs=0.08)
    assert (segments["n_treated"] + segments["n_control"] == segments["rows"]).all()


def test_missing_values_appear_in_the_rule():
    X, uplift = rows()
    X["sessions"] = X["sessions"].where(X.index % 10 != 0)  # a tenth missing
    uplift = np.where(X["sessions"].isna(), 0.25, uplift)
    segments = explain_uplift(X, uplift, features=FEATURES, max_depth=2).segments
    # the tree splits missing from present values: a segment of its own, said so
    assert segments.loc[0, "rule"] == "sessions is missing"
    assert segments.loc[0, "predicted_uplift"] == pytest.approx(0.25)
    assert segments.loc[1, "rule"] == "sessions <= 1.5"  # the present values only


def test_missing_values_that_follow_a_threshold_say_so():
    X, uplift = rows()
    missing = X.index % 10 == 0
    X["sessions"] = X["sessions"].where(~missing)
    uplift = np.where(missing, 0.0, uplift)  # missing behaves like the active users
    rules = explain_uplift(X, uplift, features=FEATURES, max_depth=2).segments["rule"]
    assert rules.str.contains(r"\(sessions > 1.5 or missing\)").any()


def test_min_segment_share_keeps_segments_large():
    X, uplift = rows()
    segments = explain_uplift(
        X, uplift, features=FEATURES, max_depth=4, min_segment_share=0.1
    ).segments
    assert segments["share"].min() >= 0.1


def test_bad_arguments_are_named():
    X, uplift = rows(100)
    with pytest.raises(ValueError, match="one value per row of X"):
        explain_uplift(X, uplift[:-1], features=FEATURES)
    with pytest.raises(ValueError, match="NaN"):
        explain_uplift(X, np.where(uplift > 0, np.nan, 0.0), features=FEATURES)
    with pytest.raises(ValueError, match="both treatment and outcome"):
        explain_uplift(X, uplift, features=FEATURES, treatment=np.ones(100))

"""S- and T-learners over each built-in adapter, on data whose true uplift is known."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy.stats import spearmanr

from modelworks.training import FeatureSpec
from modelworks.uplift import (
    LEARNERS,
    TREATMENT_FEATURE,
    UPLIFT_METADATA_FILE,
    UpliftCandidateParams,
    UpliftData,
    UpliftModel,
    fit_uplift_model,
    load_uplift_model,
)
from tests.modelworks.uplift.synthetic import FEATURES, PARAMS, synthetic, top_30_capture

ADAPTERS = ["catboost", "lightgbm"]
# Thresholds on 2,000 test rows. Measured with data seeds 0, 1, 2 (train, +100 valid, +200 test),
# Spearman with the true uplift and top-30 % capture (share of the most any 30 % gains):
# S-learner 0.86-0.92 and 0.88-0.94, T-learner 0.69-0.89 and 0.66-0.93, over both adapters.
MIN_SPEARMAN = {"s_learner": 0.7, "t_learner": 0.55}
MIN_CAPTURE = {"s_learner": 0.75, "t_learner": 0.55}


def candidate(adapter: str, learner: str, **overrides) -> UpliftCandidateParams:
    return UpliftCandidateParams(
        adapter=adapter,
        learner=learner,
        params=PARAMS[adapter],
        max_rounds=400,
        early_stopping_rounds=20,
        **overrides,
    )


@pytest.fixture(scope="module")
def data():
    return {
        "train": synthetic(3000, 0),
        "valid": synthetic(1000, 100),
        "test": synthetic(2000, 200),
    }


@pytest.fixture(
    scope="module",
    params=[(adapter, learner) for adapter in ADAPTERS for learner in LEARNERS],
    ids="-".join,
)
def fitted(request, data) -> UpliftModel:
    adapter, learner = request.param
    return fit_uplift_model(
        data["train"][0],
        features=FEATURES,
        candidate=candidate(adapter, learner),
        seed=0,
        valid=data["valid"][0],
    )


def test_ranking_recovers_the_true_uplift(fitted, data):
    test, true_uplift = data["test"]
    predicted = fitted.predict_uplift(test.X)
    assert spearmanr(predicted, true_uplift).statistic > MIN_SPEARMAN[fitted.learner]
    assert top_30_capture(predicted, true_uplift) > MIN_CAPTURE[fitted.learner]


def test_uplift_is_treated_minus_control_probability(fitted, data):
    test, _ = data["test"]
    arms = fitted.predict_arms(test.X)
    assert list(arms.columns) == ["control", "treated"]
    assert arms.index.equals(test.X.index)
    assert ((arms > 0) & (arms < 1)).all().all()
    np.testing.assert_allclose(fitted.predict_uplift(test.X), arms["treated"] - arms["control"])
    assert isinstance(fitted, UpliftModel)


def test_early_stopping_keeps_fewer_rounds_than_the_budget(fitted):
    expected = {"s_learner": {"outcome"}, "t_learner": {"control", "treated"}}[fitted.learner]
    assert set(fitted.best_iterations) == expected
    assert all(1 <= n < 400 for n in fitted.best_iterations.values())


def test_feature_importance_sums_to_one_over_the_inputs(fitted):
    importance = fitted.feature_importance()
    assert importance.sum() == pytest.approx(1.0)
    extra = {TREATMENT_FEATURE} if fitted.learner == "s_learner" else set()
    assert set(importance.index) == set(FEATURES.columns) | extra


def test_save_and_load_give_the_same_predictions(fitted, data, tmp_path):
    test, _ = data["test"]
    fitted.save(tmp_path)
    metadata = json.loads((tmp_path / UPLIFT_METADATA_FILE).read_text())
    assert metadata["learner"] == fitted.learner
    assert metadata["adapter"] == fitted.adapter
    for name in fitted.models:  # each classifier in its library's own format
        assert (tmp_path / name / "modelworks_model.json").is_file()
    loaded = load_uplift_model(tmp_path)
    assert loaded.learner == fitted.learner
    assert loaded.best_iterations == fitted.best_iterations
    np.testing.assert_allclose(loaded.predict_uplift(test.X), fitted.predict_uplift(test.X))


@pytest.mark.parametrize("learner", LEARNERS)
def test_refit_with_the_rounds_per_classifier(learner, data):
    train, _ = data["train"]
    rounds = {"s_learner": {"outcome": 7}, "t_learner": {"control": 5, "treated": 9}}[learner]
    model = fit_uplift_model(
        train,
        features=FEATURES,
        candidate=candidate("lightgbm", learner),
        seed=0,
        n_rounds=rounds,
    )
    assert model.best_iterations == rounds


def test_s_learner_refuses_a_feature_named_like_its_flag(data):
    train, _ = data["train"]
    X = train.X.assign(treatment=train.treatment)
    features = FeatureSpec(numeric=["x1", "treatment"])
    with pytest.raises(ValueError, match="remove 'treatment' from the feature list"):
        fit_uplift_model(
            UpliftData(X, train.treatment, train.outcome),
            features=features,
            candidate=candidate("lightgbm", "s_learner"),
            seed=0,
            n_rounds=5,
        )


def test_t_learner_names_the_arm_without_both_outcomes():
    X = pd.DataFrame({"x1": np.arange(8.0), "x2": 0.0, "x3": 0.0, "segment": "a"})
    data = UpliftData(X, [1, 1, 1, 1, 0, 0, 0, 0], [1, 0, 1, 0, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="control model needs both outcomes"):
        fit_uplift_model(
            data,
            features=FEATURES,
            candidate=candidate("lightgbm", "t_learner"),
            seed=0,
            n_rounds=3,
        )


def test_uplift_data_checks_its_columns():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "called": [1, 0, 1], "repaid": [0, 1, 1]})
    data = UpliftData.from_frame(frame, treatment="called", outcome="repaid")
    assert data.treatment.tolist() == [1, 0, 1] and len(data) == 3
    assert data.arm(treated=False).X["x"].tolist() == [2.0]
    with pytest.raises(ValueError, match=r"frame lacks columns \['paid'\]"):
        UpliftData.from_frame(frame, treatment="called", outcome="paid")
    with pytest.raises(ValueError, match="treatment must hold binary labels"):
        UpliftData(frame, [1, 2, 0], [0, 1, 1])
    with pytest.raises(ValueError, match="outcome has 2 labels for 3 feature rows"):
        UpliftData(frame, [1, 0, 0], [0, 1])


def test_candidate_params_name_a_known_learner():
    with pytest.raises(ValidationError, match="learner"):
        UpliftCandidateParams(adapter="lightgbm", learner="x_learner")
    with pytest.raises(ValidationError, match="leaner"):
        UpliftCandidateParams.model_validate(
            {"adapter": "lightgbm", "learner": "t_learner", "leaner": 1}
        )
    with pytest.raises(ValidationError, match="set by the lightgbm adapter"):
        UpliftCandidateParams(adapter="lightgbm", learner="t_learner", params={"seed": 1})


def test_loading_a_folder_without_an_uplift_model_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match=UPLIFT_METADATA_FILE):
        load_uplift_model(tmp_path)

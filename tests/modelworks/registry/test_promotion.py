"""Registry moves against a real MLflow SQLite registry in a temporary folder."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from modelworks.registry.promotion import (
    CHAMPION,
    PREVIOUS_CHAMPION,
    register_and_promote,
    score_version,
)
from modelworks.registry.tracking import log_probability_model
from modelworks.training import CandidateParams, FeatureSpec, get_adapter

FEATURES = FeatureSpec(numeric=["x"], categorical=["c"])


def _logged_model() -> tuple[str, str]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(["a", "b"], size=300)})
    y = pd.Series((frame["x"] + (frame["c"] == "a") > 0.5).astype(int))
    fitted = get_adapter("lightgbm").fit(
        frame,
        y,
        features=FEATURES,
        candidate=CandidateParams(adapter="lightgbm", params={"min_child_samples": 5}),
        seed=0,
        n_rounds=5,
    )
    with mlflow.start_run() as run:
        uri = log_probability_model(fitted, frame)
    return uri, run.info.run_id


def _promote(score: float, champion_score: float | None, min_improvement: float = 0.0):
    uri, run_id = _logged_model()
    return register_and_promote(
        model_name="m",
        model_uri=uri,
        run_id=run_id,
        metric="roc_auc",
        challenger_score=score,
        score_champion=lambda version: champion_score,  # type: ignore[arg-type,return-value]
        min_improvement=min_improvement,
        tags={"origin": "test"},
        description="test model",
    )


def test_first_version_becomes_champion(tracking: MlflowClient) -> None:
    decision = _promote(0.7, None)
    assert decision.promoted and decision.version == "1"
    assert str(tracking.get_model_version_by_alias("m", CHAMPION).version) == "1"
    tags = tracking.get_model_version("m", "1").tags
    assert tags["promotion.decision"] == "promoted"
    assert tags["origin"] == "test"


def test_better_challenger_takes_the_alias_and_keeps_the_old_one_restorable(
    tracking: MlflowClient,
) -> None:
    _promote(0.70, None)
    decision = _promote(0.75, 0.70)
    assert decision.promoted
    assert str(tracking.get_model_version_by_alias("m", CHAMPION).version) == "2"
    assert str(tracking.get_model_version_by_alias("m", PREVIOUS_CHAMPION).version) == "1"


def test_worse_or_equal_challenger_is_tagged_with_why_it_lost(tracking: MlflowClient) -> None:
    _promote(0.70, None)
    worse = _promote(0.69, 0.70)
    tie = _promote(0.70, 0.70)
    small = _promote(0.705, 0.70, min_improvement=0.01)
    assert not (worse.promoted or tie.promoted or small.promoted)
    assert str(tracking.get_model_version_by_alias("m", CHAMPION).version) == "1"
    reason = tracking.get_model_version("m", worse.version).tags["promotion.reason"]
    assert "0.6900 does not beat champion v1 (0.7000)" in reason


def test_logged_model_predicts_probabilities_through_pyfunc(tracking: MlflowClient) -> None:
    uri, _ = _logged_model()
    model = mlflow.pyfunc.load_model(uri)
    frame = pd.DataFrame({"x": [0.0, 3.0], "c": ["a", "unseen"], "extra": [1, 2]})
    scores = np.asarray(model.predict(frame))
    assert scores.shape == (2,) and ((scores > 0) & (scores < 1)).all()
    assert model.metadata.get_input_schema().input_names() == ["x", "c"]


def test_registered_version_scores_integer_columns_logged_as_double(
    tracking: MlflowClient,
) -> None:
    decision = _promote(0.7, None)
    as_float = pd.DataFrame({"x": [0.0, 3.0], "c": ["a", "b"], "loan_id": [7, 8]})
    as_int = as_float.astype({"x": "int64"})
    by_float = np.asarray(score_version("m", decision.version, as_float))
    by_int = np.asarray(score_version("m", decision.version, as_int))
    np.testing.assert_array_equal(by_float, by_int)

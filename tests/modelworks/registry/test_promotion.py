"""Registry moves against a real MLflow SQLite registry in a temporary folder."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from modelworks.pipelines.training import RegistryParams, TrainingParams, register_best_candidate
from modelworks.registry import audit
from modelworks.registry.evaluation import evaluator_for
from modelworks.registry.gate import GatePolicy
from modelworks.registry.promotion import (
    CHAMPION,
    PREVIOUS_CHAMPION,
    TAG_REPLACED,
    RegistryError,
    history,
    promote,
    rollback,
)
from tests.modelworks.registry.versions import register_flipped

MODEL = "m"
POLICY = GatePolicy.model_validate(
    {
        "thresholds": {"roc_auc": {"min": 0.55}},
        "improvement": {"metric": "roc_auc", "paired_test": {"n_resamples": 300}},
    }
)


def _register(flip: float) -> str:
    return register_flipped(MODEL, flip, rows=1500, rounds=30)


def _champion(client: MlflowClient) -> str:
    return str(client.get_model_version_by_alias(MODEL, CHAMPION).version)


def test_first_version_becomes_champion_with_every_check_recorded(tracking: MlflowClient) -> None:
    version = _register(0.0)
    decision = promote(MODEL, version, POLICY)
    assert decision.action == "promoted" and decision.promoted
    assert _champion(tracking) == version
    tags = tracking.get_model_version(MODEL, version).tags
    assert tags["promotion.decision"] == "promoted"
    assert tags["gate.holdout_roc_auc"].startswith("pass: 0.")
    assert tags["gate.improvement_roc_auc"] == "pass: n/a (> 0 over the champion)"
    assert tags["origin"] == "test"
    assert "| holdout_roc_auc | pass |" in tracking.get_model_version(MODEL, version).description


def test_worse_challenger_is_rejected_and_the_champion_stays(tracking: MlflowClient) -> None:
    good = _register(0.0)
    promote(MODEL, good, POLICY)
    worse = _register(0.45)
    decision = promote(MODEL, worse, POLICY)
    assert decision.action == "rejected" and not decision.promoted
    assert _champion(tracking) == good
    tags = tracking.get_model_version(MODEL, worse).tags
    assert tags["promotion.decision"] == "rejected"
    assert tags["gate.improvement_roc_auc"].startswith("FAIL: -")
    assert "improvement_roc_auc" in tags["promotion.reason"]
    assert TAG_REPLACED not in tags


def test_better_challenger_takes_the_alias_and_the_old_one_stays_restorable(
    tracking: MlflowClient,
) -> None:
    weak = _register(0.45)
    promote(MODEL, weak, POLICY)
    strong = _register(0.0)
    decision = promote(MODEL, strong, POLICY)
    assert decision.action == "promoted"
    assert decision.champion_before == weak and decision.champion_after == strong
    assert _champion(tracking) == strong
    previous = tracking.get_model_version_by_alias(MODEL, PREVIOUS_CHAMPION)
    assert str(previous.version) == weak
    assert tracking.get_model_version(MODEL, strong).tags[TAG_REPLACED] == weak


def test_forced_promotion_records_the_reason_and_the_failed_checks(tracking: MlflowClient) -> None:
    good = _register(0.0)
    promote(MODEL, good, POLICY)
    worse = _register(0.45)
    decision = promote(MODEL, worse, POLICY, force_reason="incident 42: roll forward")
    assert decision.action == "forced"
    assert _champion(tracking) == worse
    assert "incident 42: roll forward" in decision.reason
    assert "improvement_roc_auc FAIL" in decision.reason
    assert tracking.get_model_version(MODEL, worse).tags["promotion.decision"] == "forced"


def test_rollback_walks_back_one_champion_at_a_time(tracking: MlflowClient) -> None:
    first, second, third = _register(0.45), _register(0.3), _register(0.0)
    for version in (first, second, third):
        assert promote(MODEL, version, POLICY).promoted
    assert _champion(tracking) == third

    back = rollback(MODEL, reason="third misbehaves online")
    assert (back.champion_before, back.champion_after) == (third, second)
    assert _champion(tracking) == second
    assert str(tracking.get_model_version_by_alias(MODEL, PREVIOUS_CHAMPION).version) == first
    assert tracking.get_model_version(MODEL, third).tags["rollback.reason"] == (
        "third misbehaves online"
    )

    rollback(MODEL, reason="and so does the second")
    assert _champion(tracking) == first
    with pytest.raises(Exception, match=PREVIOUS_CHAMPION):
        tracking.get_model_version_by_alias(MODEL, PREVIOUS_CHAMPION)
    with pytest.raises(RegistryError, match="replaced no earlier champion"):
        rollback(MODEL, reason="nothing left")


def test_the_audit_trail_holds_every_promotion_rejection_forced_move_and_rollback(
    tracking: MlflowClient,
) -> None:
    good = _register(0.0)
    promote(MODEL, good, POLICY, triggered_by="run-123")
    worse = _register(0.45)
    promote(MODEL, worse, POLICY)
    promote(MODEL, worse, POLICY, force_reason="testing the trail")
    rollback(MODEL, reason="back to the good one")

    events = history(MODEL)
    assert [(e["action"], e["version"]) for e in events] == [
        ("promoted", good),
        ("rejected", worse),
        ("forced", worse),
        ("rolled_back", good),
    ]
    assert events[0]["triggered_by"] == "run-123"
    assert events[1]["champion_before"] == events[1]["champion_after"] == good
    assert {c["check"] for c in events[1]["checks"]} >= {"holdout_roc_auc", "improvement_roc_auc"}
    assert all(e["at"] and e["actor"] for e in events)
    # the trail is an MLflow experiment a person can browse
    experiment = tracking.get_experiment_by_name(audit.AUDIT_EXPERIMENT)
    assert len(tracking.search_runs([experiment.experiment_id])) == 4


def test_promoting_the_champion_again_or_an_unknown_version_is_refused(
    tracking: MlflowClient,
) -> None:
    version = _register(0.0)
    promote(MODEL, version, POLICY)
    with pytest.raises(RegistryError, match="already holds the alias"):
        promote(MODEL, version, POLICY)
    with pytest.raises(RegistryError, match="has no version 99"):
        promote(MODEL, "99", POLICY)


def test_a_model_trained_on_data_that_failed_validation_is_never_registered(
    tracking: MlflowClient,
) -> None:
    lineage = {"validation": {"success": False}}
    training = TrainingParams.model_validate(
        {
            "label": "label",
            "time_column": "t",
            "features": {"numeric": ["x"]},
            "holdout_days": 1,
            "candidates": {"lgb": {"adapter": "lightgbm"}},
        }
    )
    with pytest.raises(RuntimeError, match="failed validation"):
        register_best_candidate(
            {"run_id": "r", "model_uri": "u"},
            lineage,
            pd.DataFrame(),
            {"features": []},
            None,
            training,
            RegistryParams(model_name=MODEL),
        )
    assert tracking.search_registered_models() == []


def test_the_evaluator_scores_integer_columns_logged_as_double(tracking: MlflowClient) -> None:
    version = _register(0.0)
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}/{version}")
    as_float = pd.DataFrame({"x": [0.0, 3.0], "c": ["a", "b"], "label": [0, 1], "id": [7, 8]})
    as_int = as_float.astype({"x": "int64"})
    evaluator = evaluator_for({"task": "binary_classification", "label": "label"})
    np.testing.assert_array_equal(
        evaluator.predict(model, as_float), evaluator.predict(model, as_int)
    )


def test_logged_model_predicts_probabilities_through_pyfunc(tracking: MlflowClient) -> None:
    version = _register(0.0)
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}/{version}")
    frame = pd.DataFrame({"x": [0.0, 3.0], "c": ["a", "unseen"], "extra": [1, 2]})
    scores = np.asarray(model.predict(frame))
    assert scores.shape == (2,) and ((scores > 0) & (scores < 1)).all()
    assert model.metadata.get_input_schema().input_names() == ["x", "c"]

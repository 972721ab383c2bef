"""Training nodes on a tiny frame, logging to a real MLflow SQLite store in a temporary folder."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from modelworks.monitoring import DriftParams
from modelworks.pipelines.monitoring import detect_drift, profile_reference
from modelworks.pipelines.training import (
    RegistryParams,
    TrainingParams,
    describe_lineage,
    register_best_candidate,
    select_best_candidate,
    split_out_of_time,
    train_candidates,
)

PARAMS = TrainingParams.model_validate(
    {
        "label": "y",
        "time_column": "t",
        "holdout_days": 20,
        "n_splits": 3,
        "seed": 1,
        "features": {"numeric": ["x"], "categorical": ["c"]},
        "candidates": {
            "lgbm": {"adapter": "lightgbm", "max_rounds": 50, "params": {"min_child_samples": 5}},
            "cat": {"adapter": "catboost", "max_rounds": 50, "params": {"depth": 3}},
        },
    }
)


FEATURE_SERVICE = {
    "service": "toy_service",
    "join_keys": ["id"],
    "features": ["x", "c"],
    "repo_path": "/nowhere",  # the online store is opened only when a caller sends keys alone
    "definitions_sha256": "0" * 64,
    "feature_views": {},
}
VALIDATED = {"success": True, "suite": "raw", "validated_at": "2024-01-01", "tables": {}}


@pytest.fixture()
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 900
    x = rng.normal(size=n)
    c = rng.choice(["a", "b", "c"], size=n)
    logit = 1.5 * x + np.where(c == "a", 1.0, -0.5)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "t": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.arange(n) // 9, "D"),
            "x": x,
            "c": c,
            "y": (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int),
        }
    )


def test_candidates_nest_folds_and_the_best_is_registered(
    frame: pd.DataFrame, tracking: MlflowClient
) -> None:
    train, holdout = split_out_of_time(frame, PARAMS)
    assert train["t"].max() < holdout["t"].min()
    with mlflow.start_run(run_name="pipeline") as parent:
        candidates = train_candidates(train, holdout, FEATURE_SERVICE, PARAMS)
        best, metrics, mlflow_metrics = select_best_candidate(candidates, PARAMS)
        profile = profile_reference(holdout, best, PARAMS, DriftParams())
        drift = detect_drift(profile, holdout, DriftParams())
        lineage = describe_lineage(
            best, frame[["id", "t"]], VALIDATED, FEATURE_SERVICE, {"toy": {"training": PARAMS}},
            use_case="toy",
        )  # fmt: skip
        decision = register_best_candidate(
            best, lineage, holdout, drift, profile, PARAMS, RegistryParams(model_name="toy")
        )

    assert {c["name"] for c in candidates} == {"lgbm", "cat"}
    assert best["cv"]["roc_auc_mean"] == max(c["cv"]["roc_auc_mean"] for c in candidates)
    assert metrics["candidate"] == best["name"] and metrics["holdout_roc_auc"] > 0.7
    assert mlflow_metrics["holdout_roc_auc"]["value"] == metrics["holdout_roc_auc"]
    runs = tracking.search_runs([parent.info.experiment_id], max_results=100)
    by_parent: dict[str, list[str]] = {}
    for run in runs:
        by_parent.setdefault(run.data.tags.get("mlflow.parentRunId", ""), []).append(
            run.info.run_id
        )
    candidate_runs = by_parent[parent.info.run_id]
    assert len(candidate_runs) == 2
    assert all(len(by_parent[run_id]) == PARAMS.n_splits for run_id in candidate_runs)
    assert decision["promoted"] and decision["version"] == "1"
    champion = tracking.get_model_version_by_alias("toy", "champion")
    assert champion.run_id == best["run_id"]
    assert champion.tags["lineage.validation"] == "passed"
    artifacts = {a.path for a in tracking.list_artifacts(best["run_id"], "monitoring")}
    assert artifacts == {"monitoring/reference_profile.json"}
    assert lineage["training"]["data_through"] == frame["t"].max().isoformat()


def test_a_retrain_decision_that_says_no_trains_nothing(
    frame: pd.DataFrame, tracking: MlflowClient
) -> None:
    train, holdout = split_out_of_time(frame, PARAMS)
    no = {"retrain": False, "reasons": ["no trigger fired"]}
    with mlflow.start_run(run_name="pipeline") as parent:
        candidates = train_candidates(train, holdout, FEATURE_SERVICE, PARAMS, no)
        best, metrics, _ = select_best_candidate(candidates, PARAMS)
        profile = profile_reference(holdout, best, PARAMS, DriftParams())
        lineage = describe_lineage(best, frame, VALIDATED, FEATURE_SERVICE, {}, use_case="toy")
        decision = register_best_candidate(
            best, lineage, holdout, detect_drift(profile, holdout, DriftParams()), profile,
            PARAMS, RegistryParams(model_name="toy"),
        )  # fmt: skip
    assert candidates == [] and metrics["candidate"] is None
    assert decision["action"] == "skipped" and not decision["promoted"]
    runs = tracking.search_runs([parent.info.experiment_id])
    assert [r.info.run_id for r in runs] == [parent.info.run_id]
    assert tracking.search_registered_models() == []


def test_data_that_failed_validation_is_never_registered(
    frame: pd.DataFrame, tracking: MlflowClient
) -> None:
    with pytest.raises(RuntimeError, match="failed validation"):
        register_best_candidate(
            {"model_uri": "unused", "run_id": "unused"},
            {"validation": {"success": False}},
            frame,
            {"features": []},
            {},
            PARAMS,
            RegistryParams(model_name="toy"),
        )
    assert tracking.search_registered_models() == []


def test_a_single_class_holdout_is_refused(frame: pd.DataFrame, tracking: MlflowClient) -> None:
    train, holdout = split_out_of_time(frame, PARAMS)
    with pytest.raises(ValueError, match="holdout rows hold a single label class"):
        train_candidates(train, holdout.assign(y=0), FEATURE_SERVICE, PARAMS)

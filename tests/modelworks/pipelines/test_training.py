"""Training nodes on a tiny frame, logging to a real MLflow SQLite store in a temporary folder."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from modelworks.pipelines.training import (
    RegistryParams,
    TrainingParams,
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


@pytest.fixture()
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 900
    x = rng.normal(size=n)
    c = rng.choice(["a", "b", "c"], size=n)
    logit = 1.5 * x + np.where(c == "a", 1.0, -0.5)
    return pd.DataFrame(
        {
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
        candidates = train_candidates(train, holdout, PARAMS)
        best, metrics, mlflow_metrics = select_best_candidate(candidates, PARAMS)
        decision = register_best_candidate(
            best, holdout, {"success": True}, PARAMS, RegistryParams(model_name="toy")
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
    assert tracking.get_model_version_by_alias("toy", "champion").run_id == best["run_id"]


def test_data_that_failed_validation_is_never_registered(
    frame: pd.DataFrame, tracking: MlflowClient
) -> None:
    with pytest.raises(RuntimeError, match="failed validation"):
        register_best_candidate(
            {"model_uri": "unused"},
            frame,
            {"success": False},
            PARAMS,
            RegistryParams(model_name="toy"),
        )
    assert tracking.search_registered_models() == []


def test_a_single_class_holdout_is_refused(frame: pd.DataFrame, tracking: MlflowClient) -> None:
    train, holdout = split_out_of_time(frame, PARAMS)
    with pytest.raises(ValueError, match="holdout rows hold a single label class"):
        train_candidates(train, holdout.assign(y=0), PARAMS)

"""flight_delays end to end (`kedro run --pipelines flight_delays`) on a small sample, in a
temporary copy of the project: a regression champion, registered and tagged, that beats
predicting the mean delay, and the scoring batch scored with it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.project import copy_project, edit_params, run_in

pytestmark = pytest.mark.e2e(seconds=200)

UC = "flight_delays"
HOLDOUT_DAYS = 30


def _small(params: dict[str, Any]) -> None:
    params["declared"]["entity_rows"]["sample"] = {"fraction": 0.05, "seed": 0}
    params["training"].update(n_splits=2, holdout_days=HOLDOUT_DAYS)
    for candidate in params["training"]["candidates"].values():
        candidate["max_rounds"] = 80
    # The latency check is judged on an injected clock in tests/modelworks/registry; here, on
    # a machine busy with other tests, wall time would decide the promotion instead of the model.
    params["registry"]["gate"]["max_latency_ms"] = None


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(tmp_path_factory.mktemp(UC) / "project")
    edit_params(root, UC, _small)
    run_in(root, ["kedro", "run", "--pipelines", UC])
    return root


def _client(root: Path) -> MlflowClient:
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_a_regression_champion_beats_the_mean_delay(project: Path) -> None:
    champion = _client(project).get_model_version_by_alias(UC, "champion")
    assert champion.tags["use_case"] == UC
    assert champion.tags["task"] == "regression"
    assert champion.tags["lineage.feature_service"] == f"{UC}__service"

    training = pd.read_parquet(project / "data" / "05_model_input" / UC / "training_set.parquet")
    cutoff = training["time_hour"].max() - pd.Timedelta(days=HOLDOUT_DAYS)
    fit, holdout = (
        training[training["time_hour"] <= cutoff],
        training[training["time_hour"] > cutoff],
    )
    naive_rmse = float(np.sqrt(np.mean((holdout["arr_delay"] - fit["arr_delay"].mean()) ** 2)))
    metrics = json.loads(
        (project / "data" / "08_reporting" / UC / "holdout_metrics.json").read_text()
    )
    assert metrics["holdout_rmse"] < naive_rmse
    assert float(champion.tags["holdout.rmse"]) == pytest.approx(metrics["holdout_rmse"], abs=1e-5)


def test_the_scoring_batch_is_scored_by_the_champion(project: Path) -> None:
    predictions = pd.read_parquet(project / "data" / "07_model_output" / UC / "predictions.parquet")
    batch = pd.read_parquet(project / "data" / "05_model_input" / UC / "scoring_batch_rows.parquet")
    assert len(predictions) == len(batch)
    assert set(predictions["model_version"]) == {"1"}
    assert predictions["score"].notna().all()

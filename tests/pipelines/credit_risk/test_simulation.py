"""credit_risk_simulation on small data: weekly batches, a shift, and the loop closing itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.project import copy_project, edit_params, few_trials, run_in

pytestmark = pytest.mark.e2e(seconds=600)

MODEL = "credit_risk"
SHIFT_WEEK = 4


def _small(params: dict[str, Any]) -> None:
    few_trials(params)
    params["generator"].update(n_loans=8000)
    params["training"].update(holdout_days=45)
    for candidate in params["training"]["candidates"].values():
        candidate["max_rounds"] = 200
    params["simulation"].update(
        weeks=22, shift_week=SHIFT_WEEK, n_splits=2, min_days_between_retrains=21
    )
    # The latency check is judged on an injected clock in tests/modelworks/registry; here, on
    # a machine busy with other tests, wall time would decide the promotion instead of the model.
    params["registry"]["gate"]["max_latency_ms"] = None


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("simulation") / "project")
    edit_params(root, MODEL, _small)
    run_in(root, ["kedro", "run", "--pipelines", "credit_risk_simulation"])
    return root


def _outputs(root: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    folder = root / "data" / "08_reporting" / MODEL / "simulation"
    return pd.read_csv(folder / "timeline.csv"), json.loads((folder / "summary.json").read_text())


def test_no_retrain_before_the_shift(replay: Path) -> None:
    timeline, summary = _outputs(replay)
    before = timeline[(timeline["week"] > 0) & (timeline["week"] < SHIFT_WEEK)]
    assert not before["retrain"].any()
    assert (before["drift_verdict"] != "critical").all()
    assert summary["retrain_weeks"][0] == 0  # the first champion


def test_drift_is_detected_and_a_retrain_promoted_after_the_shift(replay: Path) -> None:
    timeline, summary = _outputs(replay)
    after = timeline[timeline["week"] >= SHIFT_WEEK]
    assert (after["drift_verdict"] == "critical").any()
    assert min(w for w in summary["retrain_weeks"] if w > 0) >= SHIFT_WEEK
    promotions = [w for w in summary["promotion_weeks"] if w > 0]
    assert promotions and promotions[0] > SHIFT_WEEK
    assert (
        timeline.loc[timeline["week"] == promotions[0], "champion_version"].item()
        != (timeline.loc[0, "champion_version"])
    )


def test_the_new_champion_recovers_performance(replay: Path) -> None:
    timeline, summary = _outputs(replay)
    promoted = min(w for w in summary["promotion_weeks"] if w > 0)
    later = timeline[timeline["week"] >= promoted]
    # Same batches, same labels: the champion against the first model left in place.
    assert later["realised_brier"].mean() < later["first_realised_brier"].mean()


def test_the_replay_is_logged_and_leaves_the_real_registry_alone(replay: Path) -> None:
    uri = f"sqlite:///{replay / 'mlruns' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    names = {model.name for model in client.search_registered_models()}
    assert names == {"credit_risk_simulation"}
    assert (replay / "data" / "08_reporting" / MODEL / "simulation" / "timeline.png").stat().st_size
    experiment = client.get_experiment_by_name(MODEL)
    runs = client.search_runs([experiment.experiment_id], "tags.`modelworks.role` = 'replay'")
    assert len(runs) == 22
    assert not (replay / "data" / "01_raw" / MODEL).exists() or not any(
        (replay / "data" / "01_raw" / MODEL).iterdir()
    )

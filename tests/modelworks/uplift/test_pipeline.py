"""The uplift nodes in process: train, register, target, monitor, on a temporary MLflow store."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from modelworks.monitoring import DriftParams
from modelworks.pipelines.training import RegistryParams
from modelworks.registry.gate import GatePolicy
from modelworks.registry.lineage import build_lineage
from modelworks.serving.datasets import ServedModel
from modelworks.uplift import HOLDOUT_CONTROL, HOLDOUT_TREATED, TARGETED, TargetingPolicy
from modelworks.uplift.monitoring import UpliftRetrainPolicy
from modelworks.uplift.pipeline import (
    UpliftScoringParams,
    UpliftTrainingParams,
    build_treatment_list,
    decide_retraining,
    measure_holdout_uplift,
    monitor_uplift_champion,
    profile_uplift_reference,
    register_uplift_candidate,
    select_best_uplift_candidate,
    split_holdout,
    train_uplift_candidates,
)
from modelworks.uplift.serving import OUTPUT_COLUMNS
from tests.modelworks.uplift.synthetic import PARAMS as MODEL_PARAMS
from tests.modelworks.uplift.synthetic import synthetic

MODEL = "toy_uplift"
PARAMS = UpliftTrainingParams.model_validate(
    {
        "treatment": "called",
        "outcome": "repaid",
        "value": "amount",
        "value_at_stake": "owed",
        "time_column": "started_at",
        "holdout_days": 25,
        "n_splits": 2,
        "seed": 0,
        "features": {"numeric": ["x1", "x2", "x3"], "categorical": ["segment"]},
        "candidates": {
            "s_lightgbm": {
                "learner": "s_learner",
                "adapter": "lightgbm",
                "max_rounds": 60,
                "params": MODEL_PARAMS["lightgbm"],
            }
        },
        "explanation": {"max_depth": 2},
    }
)
POLICY = TargetingPolicy(cost=20.0, holdout_treated=0.2, holdout_control=0.2)
SCORING = UpliftScoringParams(key="id", id_columns=["id", "started_at"])
# No feature store: the logged model takes complete feature rows only.
NO_STORE = {"service": "", "join_keys": [], "features": [], "repo_path": ""}
GATE = GatePolicy.model_validate(
    {
        "thresholds": {"qini_coefficient": {"min": 0.0}},
        "improvement": {"metric": "qini_coefficient", "paired_test": {"n_resamples": 100}},
    }
)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    data, _ = synthetic(2_400, 11)
    rng = np.random.default_rng(11)
    owed = rng.lognormal(5.0, 0.5, len(data))
    return data.X.assign(
        started_at=pd.Timestamp("2024-01-01", tz="UTC")
        + pd.to_timedelta(np.arange(len(data)) // 24, "D"),
        called=data.treatment,
        repaid=data.outcome,
        owed=owed,
        amount=np.where(data.outcome == 1, owed, 0.0),
    )


def _lineage(frame: pd.DataFrame) -> dict:
    return build_lineage(
        validation_report={"success": True, "tables": {}},
        features={"service": None},
        entity_rows=frame,
        parameters={},
        metrics={},
        training={},
    )


def _train_and_register(frame: pd.DataFrame, holdout: pd.DataFrame, train: pd.DataFrame) -> tuple:
    candidates = train_uplift_candidates(train, holdout, NO_STORE, PARAMS, POLICY)
    best, metrics, mlflow_metrics = select_best_uplift_candidate(candidates, PARAMS)
    profile = profile_uplift_reference(holdout, best, PARAMS, DriftParams())
    decision = register_uplift_candidate(
        best,
        _lineage(frame),
        holdout,
        None,
        profile,
        PARAMS,
        RegistryParams(model_name=MODEL, gate=GATE),
    )
    return best, metrics, mlflow_metrics, profile, decision


def test_train_register_target_and_monitor(frame: pd.DataFrame, tracking: MlflowClient) -> None:
    train, holdout = split_holdout(frame, PARAMS)
    assert train["started_at"].max() < holdout["started_at"].min()
    with mlflow.start_run(run_name="pipeline") as parent:
        best, metrics, mlflow_metrics, profile, decision = _train_and_register(
            frame, holdout, train
        )
        # the same model again: no improvement on the same holdout rows, so it is rejected
        *_, second = _train_and_register(frame, holdout, train)

    assert metrics["candidate"] == "s_lightgbm" and metrics["holdout_qini_coefficient"] > 0
    assert {"holdout_profitable_fraction", "holdout_revenue_qini_coefficient"} <= set(metrics)
    assert (
        mlflow_metrics["cv_qini_coefficient_mean"]["value"] == metrics["cv_qini_coefficient_mean"]
    )
    assert profile["holdout_metrics"] == best["holdout"]
    assert decision["promoted"] and decision["version"] == "1"
    assert not second["promoted"]
    improvement = next(c for c in second["checks"] if c["check"] == "improvement_qini_coefficient")
    assert improvement["value"] == 0.0 and not improvement["passed"]

    runs = tracking.search_runs([parent.info.experiment_id], max_results=100)
    folds = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == best["run_id"]]
    assert sorted(r.data.tags["modelworks.fold"] for r in folds) == ["0", "1"]
    assert all(r.data.metrics["n_treated"] > 0 and r.data.metrics["n_control"] > 0 for r in folds)
    plots = {a.path for a in tracking.list_artifacts(best["run_id"], "plots")}
    assert {
        "plots/qini.png",
        "plots/uplift_by_decile.png",
        "plots/revenue_uplift_by_decile.png",
        "plots/persuadable_segments.png",
    } <= plots

    champion = ServedModel(
        name=MODEL,
        version="1",
        run_id=best["run_id"],
        pyfunc=mlflow.pyfunc.load_model(f"models:/{MODEL}@champion"),
        reference_profile=profile,
        data_through=str(train["started_at"].max()),
    )
    batch = holdout.drop(columns=["called", "repaid", "amount"])
    call_list, summary = build_treatment_list(champion, batch, POLICY, SCORING, PARAMS)
    assert set(OUTPUT_COLUMNS) <= set(call_list.columns)
    assert list(call_list["rank"]) == list(range(1, len(batch) + 1))
    assert set(call_list["group"]) == {TARGETED, HOLDOUT_TREATED, HOLDOUT_CONTROL}
    assert summary["rows"] == len(batch) and sum(summary["groups"].values()) == len(batch)
    assert summary["treated"] == int(call_list["treat"].sum())

    outcomes = holdout[["id", "repaid", "amount"]]  # as if the decisions had been the experiment's
    report, figure = measure_holdout_uplift(call_list, outcomes, PARAMS, SCORING)
    held = call_list["group"].isin([HOLDOUT_TREATED, HOLDOUT_CONTROL]).sum()
    assert report["n_holdout_treated"] + report["n_holdout_control"] == held
    assert len(report["deciles"]) == 10 and figure.axes

    monitored = monitor_uplift_champion(champion, batch, report, PARAMS, DriftParams())
    assert monitored["prediction_drift"]["n_current"] == len(batch)
    assert monitored["holdout_uplift"] is report
    decision = decide_retraining(monitored, champion, batch, PARAMS, UpliftRetrainPolicy())
    assert {t["trigger"] for t in decision["triggers"]} == {"drift", "age", "realised_qini_drop"}


def test_params_refuse_the_experiment_as_a_feature() -> None:
    with pytest.raises(ValueError, match=r"\['called'\] describe the experiment"):
        UpliftTrainingParams.model_validate(
            {
                **PARAMS.model_dump(),
                "features": {"numeric": ["x1", "called"], "categorical": []},
            }
        )


def test_a_holdout_with_one_arm_is_refused(frame: pd.DataFrame) -> None:
    late = frame["started_at"] > frame["started_at"].max() - pd.Timedelta(days=PARAMS.holdout_days)
    one_arm = frame[~late | (frame["called"] == 1)]
    with pytest.raises(ValueError, match=r"holdout rows hold treatment values \{1: \d+\}"):
        split_holdout(one_arm, PARAMS)


def test_a_decision_not_to_retrain_skips_every_step(frame: pd.DataFrame) -> None:
    train, holdout = split_holdout(frame, PARAMS)
    no = {"retrain": False, "reasons": ["no trigger fired"]}
    assert train_uplift_candidates(train, holdout, NO_STORE, PARAMS, POLICY, no) == []
    best, metrics, mlflow_metrics = select_best_uplift_candidate([], PARAMS)
    assert metrics == {"candidate": None, "skipped": "no candidate was trained"}
    assert not mlflow_metrics
    profile = profile_uplift_reference(holdout, best, PARAMS, DriftParams())
    decision = register_uplift_candidate(
        best, best, holdout, profile, profile, PARAMS, RegistryParams(model_name=MODEL)
    )
    assert decision["action"] == "skipped" and not decision["promoted"]

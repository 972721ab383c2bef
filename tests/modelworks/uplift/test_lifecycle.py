"""The uplift family through the one lifecycle, in process, on a temporary MLflow store: train,
register and gate, score a batch, build the treatment list, measure its holdouts, monitor and
decide."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from modelworks.monitoring import DriftParams
from modelworks.pipelines.monitoring import decide, monitor_champion, profile_reference
from modelworks.pipelines.training import (
    RegistryParams,
    register_best_candidate,
    select_best_candidate,
    split_out_of_time,
    train_candidates,
)
from modelworks.registry.gate import GatePolicy
from modelworks.registry.lineage import build_lineage
from modelworks.serving.batch import score_batch
from modelworks.serving.datasets import RegisteredModelDataset
from modelworks.uplift import HOLDOUT_CONTROL, HOLDOUT_TREATED, TARGETED, TargetingPolicy
from modelworks.uplift.monitoring import QINI_TRIGGER, UpliftRetrainPolicy
from modelworks.uplift.params import UpliftScoringParams, UpliftTrainingParams
from modelworks.uplift.serving import OUTPUT_COLUMNS
from modelworks.uplift.targeting import build_treatment_list, measure_holdout_uplift
from tests.modelworks.uplift.synthetic import PARAMS as MODEL_PARAMS
from tests.modelworks.uplift.synthetic import synthetic

MODEL = "toy_uplift"
PARAMS = UpliftTrainingParams.model_validate(
    {
        "treatment": "called",
        "outcome": "repaid",
        "value": "amount",
        "value_at_stake": "owed",
        "treatment_cost": 20.0,
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
SCORING = UpliftScoringParams(key="id", id_columns=["started_at", "owed"])
# No feature store: the logged model takes complete feature rows only.
NO_STORE = {"service": "", "join_keys": [], "features": [], "repo_path": ""}
GATE = GatePolicy.model_validate(
    {
        "thresholds": {"qini_coefficient": {"min": 0.0}},
        "improvement": {"metric": "qini_coefficient", "paired_test": {"n_resamples": 100}},
    }
)
CHARTS = {
    "plots/qini.png",
    "plots/uplift_by_decile.png",
    "plots/revenue_uplift_by_decile.png",
    "plots/persuadable_segments.png",
    "plots/feature_importance.png",
}


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
        training={"use_case": MODEL, "data_through": str(frame["started_at"].max())},
    )


def _train_and_register(frame: pd.DataFrame, train: pd.DataFrame, holdout: pd.DataFrame) -> tuple:
    candidates = train_candidates(train, holdout, NO_STORE, PARAMS)
    best, metrics, mlflow_metrics = select_best_candidate(candidates, PARAMS)
    profile = profile_reference(holdout, best, PARAMS, DriftParams())
    registry = RegistryParams(model_name=MODEL, gate=GATE)
    decision = register_best_candidate(
        best, _lineage(frame), holdout, None, profile, PARAMS, registry
    )
    return best, metrics, mlflow_metrics, decision


def test_train_register_score_target_monitor_and_decide(
    frame: pd.DataFrame, tracking: MlflowClient
) -> None:
    train, holdout = split_out_of_time(frame, PARAMS)
    assert train["started_at"].max() < holdout["started_at"].min()
    with mlflow.start_run(run_name="pipeline") as parent:
        best, metrics, mlflow_metrics, decision = _train_and_register(frame, train, holdout)
        # the same model again: no improvement on the same holdout rows, so it is rejected
        *_, second = _train_and_register(frame, train, holdout)

    # Metrics: the uplift names of before, from the CV folds and the out-of-time holdout.
    assert metrics["candidate"] == "s_lightgbm" and metrics["holdout_qini_coefficient"] > 0
    assert {
        "holdout_uplift_at_30",
        "holdout_profitable_fraction",
        "holdout_revenue_qini_coefficient",
        "holdout_realised_profit",
        "cv_qini_coefficient_mean",
        "cv_qini_coefficient_std",
    } <= set(metrics)
    assert metrics["holdout_n_treated"] + metrics["holdout_n_control"] == len(holdout)
    assert (
        mlflow_metrics["cv_qini_coefficient_mean"]["value"] == metrics["cv_qini_coefficient_mean"]
    )

    # Registry: promoted once, tagged with its task and learner; the rerun is refused.
    assert decision["promoted"] and decision["version"] == "1"
    assert not second["promoted"]
    improvement = next(c for c in second["checks"] if c["check"] == "improvement_qini_coefficient")
    assert improvement["value"] == 0.0 and not improvement["passed"]
    version = tracking.get_model_version(MODEL, "1")
    assert version.tags["task"] == "uplift" and version.tags["use_case"] == MODEL
    assert version.tags["modelworks.learner"] == "s_learner"

    # Runs: one per fold with both arms, the charts and their tables beside the model.
    runs = tracking.search_runs([parent.info.experiment_id], max_results=100)
    folds = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == best["run_id"]]
    assert sorted(r.data.tags["modelworks.fold"] for r in folds) == ["0", "1"]
    assert all(r.data.metrics["n_treated"] > 0 and r.data.metrics["n_control"] > 0 for r in folds)
    assert all("qini_coefficient" in r.data.metrics for r in folds)
    candidate = tracking.get_run(best["run_id"])
    assert candidate.data.tags["modelworks.learner"] == "s_learner"
    assert {a.path for a in tracking.list_artifacts(best["run_id"], "plots")} >= CHARTS
    tables = mlflow.artifacts.load_dict(f"runs:/{best['run_id']}/evaluation/holdout_tables.json")
    assert len(tables["uplift_by_decile"]) == 10 and tables["persuadable_segments"]

    # Scoring: the champion writes the uplift columns, and the treatment list follows them.
    champion = RegisteredModelDataset(MODEL).load()
    assert champion.task == "uplift"
    batch = holdout.drop(columns=["called", "repaid", "amount"])
    predictions, distribution = score_batch(champion, batch, SCORING)
    assert set(OUTPUT_COLUMNS) <= set(predictions.columns)
    np.testing.assert_allclose(predictions["score"], best["holdout_scores"], rtol=1e-6)
    assert sum(distribution["histogram"]["counts"]) == len(batch)
    call_list, summary = build_treatment_list(predictions, POLICY, SCORING, PARAMS)
    assert list(call_list["rank"]) == list(range(1, len(batch) + 1))
    assert call_list["revenue_uplift"].is_monotonic_decreasing
    assert set(call_list["group"]) == {TARGETED, HOLDOUT_TREATED, HOLDOUT_CONTROL}
    assert summary["rows"] == len(batch) and sum(summary["groups"].values()) == len(batch)
    assert summary["treated"] == int(call_list["treat"].sum())
    assert summary["model_version"] == "1"

    # Monitoring: the realised uplift on the holdouts joins the champion's summary.
    outcomes = holdout[["id", "repaid", "amount"]]  # as if the decisions had been the experiment's
    report, figure = measure_holdout_uplift(call_list, outcomes, PARAMS, SCORING)
    held = call_list["group"].isin([HOLDOUT_TREATED, HOLDOUT_CONTROL]).sum()
    assert report["n_holdout_treated"] + report["n_holdout_control"] == held
    assert len(report["deciles"]) == 10 and figure.axes
    monitored = monitor_champion(
        champion, batch, PARAMS, DriftParams(), report, measured_as="holdout_uplift"
    )
    assert monitored["prediction_drift"]["n_current"] == len(batch)
    assert monitored["holdout_uplift"] is report and monitored["task"] == "uplift"
    reference = monitored["reference_performance"]["qini_coefficient"]
    assert reference == pytest.approx(best["holdout"]["qini_coefficient"])

    # The retrain decision: drift, age and the realised Qini against the champion's own.
    decision = decide(monitored, champion, batch, PARAMS, UpliftRetrainPolicy())
    assert {t["trigger"] for t in decision["triggers"]} == {"drift", "age", QINI_TRIGGER}
    collapsed = monitored | {
        "holdout_uplift": report | {"qini_coefficient": -0.5, "qini_coefficient_se": 0.01}
    }
    policy = UpliftRetrainPolicy(min_holdout_rows=20)
    assert decide(collapsed, champion, batch, PARAMS, policy)["retrain"] is True
    # The cooldown counts from the last training in the registry, and holds the Qini back too.
    cooling = policy.model_copy(update={"min_days_between": 30.0})
    held_back = decide(collapsed, champion, batch, PARAMS, cooling)
    assert held_back["retrain"] is False
    assert held_back["reasons"][0].startswith(f"{QINI_TRIGGER} fired, but the last retrain was")


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
    train, holdout = split_out_of_time(one_arm, PARAMS)
    with pytest.raises(ValueError, match=r"holdout rows hold treatment values \{1: \d+\}"):
        train_candidates(train, holdout, NO_STORE, PARAMS)


def test_a_decision_not_to_retrain_skips_every_step(frame: pd.DataFrame) -> None:
    train, holdout = split_out_of_time(frame, PARAMS)
    no = {"retrain": False, "reasons": ["no trigger fired"]}
    assert train_candidates(train, holdout, NO_STORE, PARAMS, no) == []
    best, metrics, mlflow_metrics = select_best_candidate([], PARAMS)
    assert metrics == {"candidate": None, "skipped": "no candidate was trained"}
    assert not mlflow_metrics
    profile = profile_reference(holdout, best, PARAMS, DriftParams())
    decision = register_best_candidate(
        best, best, holdout, profile, profile, PARAMS, RegistryParams(model_name=MODEL)
    )
    assert decision["action"] == "skipped" and not decision["promoted"]


def test_scoring_params_always_copy_the_key() -> None:
    assert SCORING.id_columns == ["id", "started_at", "owed"]

"""The conformance suite: every task family through the one lifecycle, on tiny data.

In the spirit of scikit-learn's ``parametrize_with_checks``: each family fits, logs one nested
run per fold, registers a version tagged with its use case and task, lets the gate accept a
better and reject a worse model by its own metric's direction, serves through the pyfunc as it
predicted in training, scores a batch, is monitored, and feeds the retrain decision. What is
the family's own (its rows and context, how its signal is taken out, its reference profile,
its monitoring, a batch whose features moved) its case supplies (``case.ConformanceCase``).
A family that fails here is not done.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from modelworks.pipelines.monitoring import decide
from modelworks.pipelines.training import (
    RegistryParams,
    describe_lineage,
    register_best_candidate,
    select_best_candidate,
    train_candidates,
)
from modelworks.registry.gate import GatePolicy
from modelworks.scheduling.decision import RetrainPolicy
from modelworks.serving.batch import ScoringParams, score_batch
from modelworks.serving.datasets import RegisteredModelDataset
from modelworks.tasks import FAMILIES, get_task
from tests.modelworks.tasks.case import ConformanceCase, Rows
from tests.modelworks.tasks.cases import CASES

VALIDATED = {"success": True, "suite": "raw", "validated_at": "2024-01-01", "tables": {}}


def _as_stored(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """``frame`` as the catalog stores a training set and reads it back (parquet)."""
    frame.to_parquet(path)
    return pd.read_parquet(path)


def test_every_family_has_a_case() -> None:
    assert set(CASES) == set(FAMILIES)


def _train(case: ConformanceCase, rows: Rows, use_case: str, *, degrade: bool) -> dict[str, Any]:
    """One training run through the lifecycle's nodes; the registry decision and artifacts."""
    params = case.params
    if degrade:
        rows = replace(rows, train=case.degrade(rows.train, 0))
    with mlflow.start_run():
        candidates = train_candidates(
            rows.train, rows.holdout, dict(case.feature_service), params, context=rows.context
        )
        best, metrics, _ = select_best_candidate(candidates, params)
        profile = case.profile(rows, best, params)
        lineage = describe_lineage(
            best,
            rows.entities,
            VALIDATED,
            dict(case.feature_service),
            {use_case: {"training": params.model_dump(mode="json")}},
            use_case=use_case,
        )
        registry = RegistryParams(
            model_name=use_case,
            gate=GatePolicy.model_validate(
                {
                    "improvement": {
                        "metric": params.metric,
                        "min_delta": 0.0,
                        "paired_test": {"n_resamples": 200, "confidence": 0.9, "seed": 0},
                    },
                    "max_drift": "critical",
                    "max_latency_ms": None,
                }
            ),
        )
        decision = register_best_candidate(
            best, lineage, rows.holdout, {"features": []}, profile, params, registry
        )
    return {"best": best, "metrics": metrics, "decision": decision}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> ConformanceCase:
    return CASES[request.param]


def test_family_lives_through_the_whole_lifecycle(
    case: ConformanceCase, tracking: MlflowClient, tmp_path: Path
) -> None:
    task = get_task(case.family)
    use_case = f"conformance_{case.family}"
    rows = case.rows()
    worse = _train(case, rows, use_case, degrade=True)
    better = _train(case, rows, use_case, degrade=False)
    again_worse = _train(case, rows, use_case, degrade=True)

    # Nested runs: one candidate run per candidate, one fold run per fold under it.
    best = better["best"]
    folds = tracking.search_runs(
        [tracking.get_run(best["run_id"]).info.experiment_id],
        f"tags.mlflow.parentRunId = '{best['run_id']}'",
    )
    assert len(folds) == case.params.n_splits
    assert all(task.metrics.keys() <= fold.data.metrics.keys() for fold in folds)
    # The candidate's CV spread is the folds' sample standard deviation (ddof=1); one fold
    # (a ranking's validation days) has none to report.
    metric_per_fold = [fold.data.metrics[case.params.metric] for fold in folds]
    logged = tracking.get_run(best["run_id"]).data.metrics
    assert logged[f"cv_{case.params.metric}_mean"] == pytest.approx(np.mean(metric_per_fold))
    if len(folds) > 1:
        spread = np.std(metric_per_fold, ddof=1)
        assert logged[f"cv_{case.params.metric}_std"] == pytest.approx(spread)
    else:
        assert f"cv_{case.params.metric}_std" not in logged

    # The gate follows the metric's direction: the first version is champion by default, the
    # model with signal beats it, the degraded one after it is refused.
    assert worse["decision"]["promoted"] is True
    assert better["decision"]["promoted"] is True, better["decision"]
    assert again_worse["decision"]["promoted"] is False
    metric = case.params.metric
    assert task.oriented(metric, better["best"]["holdout"][metric]) > task.oriented(
        metric, worse["best"]["holdout"][metric]
    )

    # Registered versions carry their use case and task.
    champion_version = tracking.get_model_version_by_alias(use_case, "champion")
    assert str(champion_version.version) == str(better["decision"]["version"])
    assert champion_version.tags["use_case"] == use_case
    assert champion_version.tags["task"] == case.family

    # The served model answers as the trained one predicted, from the registry.
    served = RegisteredModelDataset(use_case).load()
    assert served.task == case.family
    served_predictions = served.predict(rows.holdout)
    scores = task.monitored_scores(served_predictions)
    np.testing.assert_allclose(scores, best["holdout_scores"], rtol=1e-6, atol=1e-9)
    # MLflow's own pyfunc, with no conversion of ours in between, takes the holdout exactly as
    # stored (a parquet round trip keeps int64 counts int64) and answers the same.
    stored = _as_stored(rows.holdout, tmp_path / "holdout.parquet")
    direct = task.monitored_scores(served.pyfunc.predict(stored))
    np.testing.assert_allclose(direct, best["holdout_scores"], rtol=1e-6, atol=1e-9)
    assert case.served_metrics(rows, served_predictions, case.params)[metric] == pytest.approx(
        best["holdout"][metric], rel=1e-6
    )

    # A batch is scored with the columns the task declares, and monitored.
    scoring = rows.scoring
    predictions, summary = score_batch(served, scoring, ScoringParams(id_columns=case.id_columns))
    assert len(predictions) == len(scoring)
    assert set(task.scoring_columns(served_predictions)) <= set(predictions.columns)
    assert predictions["model_version"].astype(str).eq(str(champion_version.version)).all()
    assert sum(summary["histogram"]["counts"]) == len(scoring)

    latest = rows.latest
    report = case.monitor(served, rows, latest, case.params)
    assert report["task"] == case.family
    assert report["verdict"] == "ok", report

    # The retrain decision: a batch whose features moved far away triggers a retrain.
    moved = case.moved(latest)
    drifted = case.monitor(served, rows, moved, case.params)
    assert drifted["verdict"] == "critical"
    policy = RetrainPolicy(metric=metric, max_estimated_drop=None, max_realised_drop=None)
    assert decide(drifted, served, moved, case.params, policy)["retrain"] is True
    assert decide(report, served, latest, case.params, policy)["retrain"] is False
    if case.realised:
        assert report["realised_performance"] is not None
        # Labels that arrive and no longer fit trigger a retrain by the metric's own direction.
        garbled = case.degrade(latest, 5)
        realised = case.monitor(served, rows, garbled, case.params)
        worse_labels = RetrainPolicy(
            drift=None, metric=metric, max_estimated_drop=None, max_realised_drop=0.01
        )
        assert decide(realised, served, garbled, case.params, worse_labels)["retrain"] is True
        assert decide(report, served, latest, case.params, worse_labels)["retrain"] is False

    # The cooldown counts from the last training recorded in the registry (this batch's time).
    cooling = policy.model_copy(update={"min_days_between": 7.0})
    held = decide(drifted, served, moved, case.params, cooling)
    assert held["retrain"] is False and "last retrain was 0.0 days ago" in held["reasons"][0]


def test_family_searches_its_first_candidate(
    case: ConformanceCase, tracking: MlflowClient, tmp_path: Path
) -> None:
    """The same search block, over the one hyperparameter every family's candidates share
    (``learning_rate``), nests trial runs between the candidate and its folds, and the
    candidate is refit with the best trial's value."""
    name, first = next(iter(case.params.candidates.items()))
    search = {"sampler": "grid", "space": {"learning_rate": {"type": "categorical",
              "choices": [0.05, 0.2]}}, "pruner": {"type": "none"}}  # fmt: skip
    searched = type(first).model_validate({**first.model_dump(), "search": search})
    params = case.params.model_copy(update={"candidates": {name: searched}})
    rows = case.rows()
    with mlflow.start_run(tags={"use_case": f"search_{case.family}"}):
        (candidate, *_) = train_candidates(
            rows.train, rows.holdout, dict(case.feature_service), params, context=rows.context
        )
    experiment = tracking.get_run(candidate["run_id"]).info.experiment_id
    trials = tracking.search_runs(
        [experiment], f"tags.mlflow.parentRunId = '{candidate['run_id']}'"
    )
    assert sorted(t.data.tags["modelworks.trial"] for t in trials) == ["0", "1"]
    assert {float(t.data.params["model.learning_rate"]) for t in trials} == {0.05, 0.2}
    for trial in trials:
        folds = tracking.search_runs(
            [experiment], f"tags.mlflow.parentRunId = '{trial.info.run_id}'"
        )
        assert len(folds) == params.n_splits
    best = max(trials, key=lambda t: get_task(params.task).oriented(
        params.metric, t.data.metrics[f"cv_{params.metric}_mean"]))  # fmt: skip
    logged = tracking.get_run(candidate["run_id"]).data
    assert float(logged.params["model.learning_rate"]) == float(
        best.data.params["model.learning_rate"]
    )
    assert candidate["cv"][f"{params.metric}_mean"] == pytest.approx(
        best.data.metrics[f"cv_{params.metric}_mean"]
    )

"""Fold fits on a Dask LocalCluster give the sequential run's metrics, runs and pruning
decisions, candidate by candidate and trial by trial."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import optuna
import pytest
from mlflow import MlflowClient

from modelworks.compute import ComputeParams, FitExecutor, executor, threads_for_fit
from modelworks.pipelines.training import TrainingParams, split_out_of_time, train_candidates
from tests.modelworks.pipelines.test_search import SPACE, _frame
from tests.modelworks.pipelines.test_training import FEATURE_SERVICE


def _params(engine: str) -> TrainingParams:
    return TrainingParams.model_validate(
        {
            "label": "y",
            "time_column": "t",
            "holdout_days": 20,
            "n_splits": 3,
            "seed": 1,
            "features": {"numeric": ["x", "z"], "categorical": ["c"]},
            "compute": {"engine": engine, "workers": 2, "threads_per_fit": 1},
            "candidates": {
                "lgbm": {"adapter": "lightgbm", "max_rounds": 40},
                "cat": {"adapter": "catboost", "max_rounds": 40, "params": {"depth": 3}},
                "tuned": {
                    "adapter": "lightgbm",
                    "max_rounds": 40,
                    "search": {
                        "sampler": "tpe",
                        "n_trials": 6,
                        "space": SPACE,
                        "pruner": {"type": "median", "n_startup_trials": 1, "n_warmup_steps": 0},
                    },
                },
            },
        }
    )


def _run(engine: str, tracking: MlflowClient, root: Path) -> dict[str, Any]:
    params = _params(engine)
    train, holdout = split_out_of_time(_frame(), params)
    with mlflow.start_run(run_name=engine, tags={"use_case": engine}) as parent:
        candidates = train_candidates(train, holdout, FEATURE_SERVICE, params)
    runs = tracking.search_runs(
        [parent.info.experiment_id], f"tags.use_case = '{engine}'", max_results=1000
    )
    folds = sorted(
        (r.data.tags["candidate"], r.info.run_name, r.data.metrics["roc_auc"])
        for r in runs
        if r.data.tags.get("kind") == "fold"
    )
    storage = f"sqlite:///{root / 'mlruns' / 'optuna.db'}"
    (study,) = [
        s for s in optuna.get_all_study_summaries(storage) if s.study_name.startswith(engine)
    ]
    trials = optuna.load_study(study_name=study.study_name, storage=storage).trials
    return {
        "candidates": {c["name"]: (c["cv"], c["holdout"], c["rounds"]) for c in candidates},
        "folds": folds,
        "trials": [(t.number, t.state.name, t.params, t.value) for t in trials],
        "dashboard": tracking.get_run(parent.info.run_id).data.tags.get("dask.dashboard"),
    }


def test_fits_on_a_local_cluster_match_the_sequential_run(
    tracking: MlflowClient, tmp_path: Path
) -> None:
    sequential = _run("local", tracking, tmp_path)
    on_dask = _run("dask", tracking, tmp_path)
    assert on_dask["candidates"] == sequential["candidates"]
    assert on_dask["folds"] == sequential["folds"]
    assert on_dask["trials"] == sequential["trials"]
    assert {state for _, state, _, _ in sequential["trials"]} == {"COMPLETE", "PRUNED"}
    assert sequential["dashboard"] is None
    assert on_dask["dashboard"] is not None and on_dask["dashboard"].startswith("http://")


def test_a_local_fit_runs_only_when_its_result_is_read() -> None:
    calls: list[int] = []
    local = FitExecutor(threads=3)
    pending = local.submit(lambda n: calls.append(n) or threads_for_fit(8), 7)
    assert calls == []
    assert pending.result() == 3 and pending.result() == 3
    assert calls == [7]


def test_a_dask_fit_runs_with_the_threads_it_was_given() -> None:
    with executor(ComputeParams(engine="dask", workers=1, threads_per_fit=2)) as fits:
        assert fits.submit(threads_for_fit, 8).result() == 2
        assert fits.client is not None
    assert fits.client.status == "closed"


@pytest.mark.parametrize("threads", [None, 1])
def test_the_local_engine_leaves_threads_to_the_adapter_unless_set(threads: int | None) -> None:
    with executor(ComputeParams(threads_per_fit=threads)) as fits:
        assert fits.client is None
        assert fits.submit(threads_for_fit, 8).result() == (8 if threads is None else threads)

"""Hyperparameter search inside the training lifecycle, on a tiny frame, with real MLflow and
Optuna stores in a temporary folder: candidate -> trial -> fold runs, pruned trials marked, the
best trial's parameters refit, a study resumed without refitting finished trials, in SQLite by
default and in PostgreSQL when the environment says so."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import optuna
import pandas as pd
import pytest
from mlflow import MlflowClient
from pydantic import ValidationError

from modelworks.pipelines.training import TrainingParams, split_out_of_time, train_candidates
from modelworks.training.search import STORAGE_ENV, SearchParams
from tests.modelworks.pipelines.test_training import FEATURE_SERVICE
from tests.servers import temporary_databases

SPACE = {
    "num_leaves": {"type": "int", "low": 4, "high": 32},
    "learning_rate": {"type": "float", "low": 0.02, "high": 0.3, "log": True},
    "min_child_samples": {"type": "categorical", "choices": [5, 20, 60]},
}


def _params(search: dict[str, Any]) -> TrainingParams:
    return TrainingParams.model_validate(
        {
            "label": "y",
            "time_column": "t",
            "holdout_days": 20,
            "n_splits": 3,
            "seed": 1,
            "features": {"numeric": ["x", "z"], "categorical": ["c"]},
            "candidates": {
                "lgbm": {"adapter": "lightgbm", "max_rounds": 40, "search": search},
            },
        }
    )


def _frame(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 900
    x, z = rng.normal(size=n), rng.normal(size=n)
    c = rng.choice(["a", "b", "c"], size=n)
    logit = 1.5 * x - 0.8 * z * x + np.where(c == "a", 1.0, -0.5)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "t": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.arange(n) // 9, "D"),
            "x": x,
            "z": z,
            "c": c,
            "y": (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int),
        }
    )


def _runs(client: MlflowClient, experiment_id: str) -> list[Any]:
    return client.search_runs([experiment_id], max_results=1000)


def _children(runs: list[Any], parent: str) -> list[Any]:
    return [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent]


def _train(params: TrainingParams) -> tuple[str, list[dict[str, Any]]]:
    train, holdout = split_out_of_time(_frame(), params)
    with mlflow.start_run(run_name="pipeline", tags={"use_case": "toy"}) as parent:
        candidates = train_candidates(train, holdout, FEATURE_SERVICE, params)
    return parent.info.run_id, candidates


def _study(root: Path) -> optuna.Study:
    (summary,) = optuna.get_all_study_summaries(f"sqlite:///{root / 'mlruns' / 'optuna.db'}")
    return optuna.load_study(
        study_name=summary.study_name, storage=f"sqlite:///{root / 'mlruns' / 'optuna.db'}"
    )


def test_runs_nest_candidate_trial_fold_and_the_best_trial_is_refit(
    tracking: MlflowClient, tmp_path: Path
) -> None:
    params = _params(
        {"sampler": "tpe", "n_trials": 8, "space": SPACE,
         "pruner": {"type": "median", "n_startup_trials": 2, "n_warmup_steps": 0}}
    )  # fmt: skip
    parent, (candidate,) = _train(params)

    runs = _runs(tracking, tracking.get_run(parent).info.experiment_id)
    (candidate_run,) = _children(runs, parent)
    trials = _children(runs, candidate_run.info.run_id)
    assert sorted(int(t.data.tags["modelworks.trial"]) for t in trials) == list(range(8))
    states = {t.data.tags["modelworks.trial_state"] for t in trials}
    study = _study(tmp_path)
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert len([t for t in trials if t.data.tags["modelworks.trial_state"] == "pruned"]) == len(
        pruned
    )
    assert states <= {"pruned", "complete"} and "complete" in states
    for trial in trials:
        folds = _children(runs, trial.info.run_id)
        expected = 3 if trial.data.tags["modelworks.trial_state"] == "complete" else None
        assert folds and (expected is None or len(folds) == expected)
        assert {f.data.tags["kind"] for f in folds} == {"fold"}
    # the candidate is the best trial, refit: its parameters and its cross-validation
    best = study.best_trial
    logged = candidate_run.data.params
    assert {k: logged[f"model.{k}"] for k in best.params} == {
        k: str(v) for k, v in best.params.items()
    }
    assert candidate["cv"]["roc_auc_mean"] == pytest.approx(best.value)
    assert candidate_run.data.metrics["search_best_value"] == pytest.approx(best.value)
    assert candidate_run.data.metrics["search_trials"] == 8
    assert candidate_run.data.metrics["search_pruned"] == len(pruned)
    assert candidate["holdout"]["roc_auc"] > 0.6
    artifacts = {a.path for a in tracking.list_artifacts(candidate_run.info.run_id, "search")}
    assert "search/optimization_history.png" in artifacts


def test_a_resumed_study_adds_trials_without_refitting_finished_ones(
    tracking: MlflowClient, tmp_path: Path
) -> None:
    search = {"sampler": "random", "space": SPACE, "pruner": {"type": "none"}}
    _train(_params({**search, "n_trials": 3}))
    parent, _ = _train(_params({**search, "n_trials": 5}))

    study = _study(tmp_path)
    assert [t.number for t in study.trials] == [0, 1, 2, 3, 4]
    runs = _runs(tracking, tracking.get_run(parent).info.experiment_id)
    (candidate_run,) = _children(runs, parent)
    trials = _children(runs, candidate_run.info.run_id)
    assert sorted(int(t.data.tags["modelworks.trial"]) for t in trials) == [3, 4]
    # the resumed sampler does not draw the first trials' parameters again
    drawn = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(drawn)) == 5
    assert candidate_run.data.metrics["search_trials"] == 5
    assert candidate_run.data.metrics["search_trials_this_run"] == 2


def test_other_rows_start_another_study(tracking: MlflowClient, tmp_path: Path) -> None:
    params = _params({"sampler": "random", "n_trials": 2, "space": SPACE})
    _train(params)
    train, holdout = split_out_of_time(_frame(seed=4), params)
    with mlflow.start_run(run_name="pipeline", tags={"use_case": "toy"}):
        train_candidates(train, holdout, FEATURE_SERVICE, params)
    summaries = optuna.get_all_study_summaries(f"sqlite:///{tmp_path / 'mlruns' / 'optuna.db'}")
    assert len(summaries) == 2
    assert all(s.study_name.startswith("toy.lgbm.") for s in summaries)
    assert [s.n_trials for s in summaries] == [2, 2]


def test_a_grid_visits_every_point_once(tracking: MlflowClient, tmp_path: Path) -> None:
    grid = {
        "num_leaves": {"type": "int", "low": 4, "high": 12, "step": 8},
        "learning_rate": {"type": "float", "low": 0.05, "high": 0.15, "step": 0.1},
    }
    _train(_params({"sampler": "grid", "space": grid, "pruner": {"type": "none"}}))
    study = _study(tmp_path)
    visited = sorted((t.params["num_leaves"], t.params["learning_rate"]) for t in study.trials)
    assert visited == [(4, 0.05), (4, 0.15), (12, 0.05), (12, 0.15)]


def test_the_study_lives_where_the_environment_says(
    tracking: MlflowClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with temporary_databases("optuna") as urls:
        monkeypatch.setenv(STORAGE_ENV, urls["optuna"])
        _train(_params({"sampler": "random", "n_trials": 2, "space": SPACE}))
        (summary,) = optuna.get_all_study_summaries(urls["optuna"])
        assert summary.n_trials == 2
    assert not (tmp_path / "mlruns" / "optuna.db").exists()


def test_search_parameters_are_checked_at_start_up() -> None:
    with pytest.raises(ValidationError, match="a grid search needs a step on float ranges"):
        SearchParams.model_validate(
            {"sampler": "grid", "space": {"lr": {"type": "float", "low": 0.1, "high": 0.2}}}
        )
    with pytest.raises(ValidationError, match="low 5 is above high 1"):
        SearchParams.model_validate({"space": {"n": {"type": "int", "low": 5, "high": 1}}})
    with pytest.raises(ValidationError, match=r"params \['seed'\] are set by the lightgbm"):
        _params({"space": {"seed": {"type": "int", "low": 1, "high": 3}}})


def _complete(root: Path) -> int:
    """Completed trials, read without Optuna: a read-only look that never takes the write lock
    the searching process needs."""
    database = root / "mlruns" / "optuna.db"
    if not database.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1)) as db:
            return int(
                db.execute("SELECT count(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
            )
    except sqlite3.Error:
        return 0


def _search_forever(root: str, tracking_uri: str) -> None:
    """A search of 40 trials, in a child process that the test kills part-way."""
    os.chdir(root)
    mlflow.set_tracking_uri(tracking_uri)
    _train(
        _params({"sampler": "random", "n_trials": 40, "space": SPACE, "pruner": {"type": "none"}})
    )


def test_a_killed_search_continues_the_same_study(tracking: MlflowClient, tmp_path: Path) -> None:
    uri = mlflow.get_tracking_uri()
    child = multiprocessing.get_context("spawn").Process(
        target=_search_forever, args=(str(tmp_path), uri)
    )
    child.start()
    storage = f"sqlite:///{tmp_path / 'mlruns' / 'optuna.db'}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and _complete(tmp_path) < 2:
        assert child.is_alive(), f"the search process ended early (exit {child.exitcode})"
        time.sleep(0.5)
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    before = {t.number: t.params for t in _study(tmp_path).trials if t.state.is_finished()}
    assert len(before) >= 2

    parent, _ = _train(
        _params({"sampler": "random", "n_trials": len(before) + 2, "space": SPACE,
                 "pruner": {"type": "none"}})
    )  # fmt: skip

    study = _study(tmp_path)
    after = {t.number: t.params for t in study.trials if t.state.is_finished()}
    assert len(after) == len(before) + 2
    assert {n: after[n] for n in before} == before  # finished trials kept as they were
    runs = _runs(tracking, tracking.get_run(parent).info.experiment_id)
    (candidate_run,) = _children(runs, parent)
    refit = {
        int(t.data.tags["modelworks.trial"]) for t in _children(runs, candidate_run.info.run_id)
    }
    assert refit.isdisjoint(before)
    assert len(refit) == 2
    assert optuna.get_all_study_summaries(storage)[0].study_name == study.study_name


def test_trials_on_fewer_folds_and_the_best_on_the_training_s_folds(
    tracking: MlflowClient, tmp_path: Path
) -> None:
    params = _params({"sampler": "random", "n_trials": 3, "n_splits": 2, "space": SPACE,
                      "pruner": {"type": "none"}})  # fmt: skip
    parent, (candidate,) = _train(params)

    runs = _runs(tracking, tracking.get_run(parent).info.experiment_id)
    (candidate_run,) = _children(runs, parent)
    below = _children(runs, candidate_run.info.run_id)
    trials = [r for r in below if r.data.tags["kind"] == "trial"]
    folds = [r for r in below if r.data.tags["kind"] == "fold"]
    assert len(trials) == 3
    assert all(len(_children(runs, t.info.run_id)) == 2 for t in trials)
    assert len(folds) == params.n_splits == 3
    assert candidate["cv"]["roc_auc_mean"] == pytest.approx(
        np.mean([f.data.metrics["roc_auc"] for f in folds])
    )

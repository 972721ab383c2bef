"""The ``ranking`` task family through the framework's own lifecycle, on toy data: one
time-based fold, the refit, the baselines beside, the winner's lead over them, registration
and the gate by the family's own metric, and the champion served and scoring a batch.

The conformance suite (tests/modelworks/tasks) checks what every family shares; this walks what
only a ranking has, node by node, on the rows ``recommenders.rows`` makes: the fold that is the
trainer's own early stopping, the baselines' runs and the winner's margins over them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from modelworks.pipelines.training import (
    RegistryParams,
    describe_lineage,
    register_best_candidate,
    select_best_candidate,
    train_candidates,
)
from modelworks.recommenders.rows import build_holdout_users, split_interactions
from modelworks.recommenders.trainer import Validation, fit_recommender
from modelworks.registry.gate import GatePolicy
from modelworks.serving.batch import ScoringParams, score_batch
from modelworks.serving.datasets import RegisteredModelDataset
from modelworks.tasks import Fit, get_task
from tests.modelworks.recommenders.conformance import PARAMS
from tests.modelworks.recommenders.test_trainer import toy_data

SERVICE = {
    "service": "s",
    "join_keys": ["user_id"],
    "features": [],
    "repo_path": "repo",
    "definitions_sha256": "0" * 64,
    "feature_views": {},
}
VALIDATED = {"success": True, "suite": "raw", "validated_at": "2024-01-01", "tables": {}}
GATE = GatePolicy.model_validate(
    {
        "improvement": {
            "metric": "ndcg_at_10",
            "min_delta": 0.0,
            "paired_test": {"n_resamples": 200, "confidence": 0.9, "seed": 0},
        },
        "max_drift": "critical",
    }
)
MODEL = "toy_ranking"


@dataclass(frozen=True)
class Rows:
    """Training rows, holdout users and context as ``recommenders.rows`` makes them."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    context: dict[str, Any]
    validation_start: pd.Timestamp


@pytest.fixture(scope="module")
def rows() -> Rows:
    data = toy_data()
    users, items = data["users"], data["items"]
    interactions = data["interactions"].assign(event="click")
    train, holdout, split = split_interactions(interactions, PARAMS)
    seen = train.groupby("user_id")["item_id"].agg(lambda s: sorted(set(s)))
    snapshots = users.assign(
        seen=users["user_id"].map(seen), snapshot="cutoff", as_of=pd.Timestamp(split["cutoff"])
    )
    context = {
        "users": users,
        "items": items,
        "validation_users": users,
        "validation_items": items,
        "history_features": [],
    }
    return Rows(
        train=train.merge(users, on="user_id", how="left").set_axis(train.index),
        holdout=build_holdout_users(holdout, train, snapshots, PARAMS),
        context=context,
        validation_start=pd.Timestamp(split["validation"]),
    )


def test_the_fold_and_the_refit_are_the_trainers_early_stopping_and_refit(rows: Rows):
    task, candidate = get_task("ranking"), PARAMS.candidates["hybrid"]
    context = {**task.prepare(rows.train, PARAMS), **rows.context}
    ((fit_idx, score_idx),) = task.folds(rows.train, PARAMS)
    keep, stop = task.stopping_split(rows.train.iloc[fit_idx], PARAMS)
    np.testing.assert_array_equal(score_idx, stop)  # early stopping watches the scored period
    fold = task.fit(
        Fit(candidate, rows.train.iloc[keep], PARAMS, context, valid=rows.train.iloc[stop])
    )
    final = task.fit(Fit(candidate, rows.train, PARAMS, context, n_rounds=task.rounds(fold)))

    users, items = rows.context["users"], rows.context["items"]
    alone = fit_recommender(
        rows.train,
        users=users,
        items=items,
        params=candidate,
        columns=final.columns,
        request_users=rows.train[["segment"]],
        validation=Validation(start=rows.validation_start, users=users, items=items),
    )
    assert alone.history.best_epoch == task.rounds(fold) == task.rounds(final)
    some = users["user_id"].to_numpy()[:50]
    np.testing.assert_array_equal(final.score_matrix(some), alone.score_matrix(some))

    metrics = task.evaluate(rows.holdout, task.predict(final, rows.holdout, context), PARAMS)
    # Every metric of the family, but for the cold-start users the toy data has none of.
    assert {m for m in task.metrics if not m.endswith("_cold")} <= set(metrics)
    assert 0 < metrics["ndcg_at_10"] <= 1 and metrics["n_users"] == len(rows.holdout)


def _train_and_register(rows: Rows, train: pd.DataFrame) -> tuple[Any, ...]:
    """The framework's candidate loop, selection, lineage and registration, in the active run."""
    with mlflow.start_run():
        candidates = train_candidates(train, rows.holdout, SERVICE, PARAMS, context=rows.context)
        selected = select_best_candidate(candidates, PARAMS)
        lineage = describe_lineage(
            selected[0],
            rows.train[["user_id", "timestamp"]],
            VALIDATED,
            SERVICE,
            {MODEL: {"training": PARAMS.model_dump(mode="json")}},
            use_case=MODEL,
        )
        decision = register_best_candidate(
            selected[0],
            lineage,
            rows.holdout,
            {"features": []},
            {"skipped": "profiled by the use case's own nodes"},
            PARAMS,
            RegistryParams(model_name=MODEL, gate=GATE),
        )
    return candidates, selected, decision


@pytest.fixture(scope="module")
def lifecycle(rows: Rows, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A model trained on the rows, then one trained on rows whose items were shuffled (no
    user's taste left to learn), both through the lifecycle into a registry of their own."""
    root = tmp_path_factory.mktemp("ranking")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        mlflow.set_experiment(experiment_id=mlflow.create_experiment("r", (root / "a").as_uri()))
        candidates, selected, decision = _train_and_register(rows, rows.train)
        rng = np.random.default_rng(0)
        shuffled = rows.train.assign(item_id=rng.permutation(rows.train["item_id"].to_numpy()))
        *_, refused = _train_and_register(rows, shuffled)
        yield {
            "client": MlflowClient(uri, uri),
            "candidates": candidates,
            "selected": selected,
            "decision": decision,
            "refused": refused,
            "champion": RegisteredModelDataset(MODEL).load(),
        }
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)


def test_one_fold_run_a_candidate_run_and_two_baseline_runs_are_logged(lifecycle):
    client, candidates = lifecycle["client"], lifecycle["candidates"]
    hybrid, popularity, content = candidates
    assert [c.get("role") for c in candidates] == [None, "baseline", "baseline"]
    experiment = client.get_run(hybrid["run_id"]).info.experiment_id
    runs = [
        run
        for parent in (
            client.get_run(hybrid["run_id"]).data.tags["mlflow.parentRunId"],
            hybrid["run_id"],
        )
        for run in client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{parent}'")
    ]
    roles = sorted(r.data.tags["modelworks.role"] for r in runs)
    assert roles == ["baseline", "baseline", "candidate", "fold"]
    run = client.get_run(hybrid["run_id"])
    assert run.data.tags["modelworks.adapter"] == "torch"
    assert run.data.params["model.seed"] == "7" and "model.validation_days" not in run.data.params
    assert run.data.metrics["holdout_rounds"] == run.data.metrics["best_epoch"] == hybrid["rounds"]
    assert run.data.metrics["cv_ndcg_at_10_mean"] == pytest.approx(hybrid["cv"]["ndcg_at_10_mean"])
    artifacts = {a.path for a in client.list_artifacts(hybrid["run_id"], "plots")}
    assert "plots/learning_curve.png" in artifacts
    (history,) = client.list_artifacts(hybrid["run_id"], "training")
    assert history.path == "training/history.json"
    (fold,) = [r for r in runs if r.data.tags.get("modelworks.role") == "fold"]
    assert fold.data.metrics["best_iteration"] == hybrid["rounds"]
    assert {a.path for a in client.list_artifacts(fold.info.run_id, "plots")} == {
        "plots/learning_curve.png"
    }
    # The baselines are judged on the same holdout users, and never packaged.
    assert popularity["holdout"]["n_users"] == hybrid["holdout"]["n_users"]
    assert "model_uri" not in content


def test_the_winner_is_measured_against_the_best_baseline(lifecycle):
    best, document, logged = lifecycle["selected"]
    assert best["name"] == "hybrid" and document["candidate"] == "hybrid"
    for group in ("", "_warm"):
        metric = f"ndcg_at_10{group}"
        rivals = [document["baselines"][b][f"holdout_{metric}"] for b in ("popularity", "content")]
        assert best["holdout"][f"{metric}_over_baselines"] == pytest.approx(
            best["holdout"][metric] - max(rivals), abs=1e-6
        )
    assert "n_users_over_baselines" not in best["holdout"]  # a count is no metric
    assert (
        logged["content.holdout_ndcg_at_10"]["value"]
        == document["baselines"]["content"]["holdout_ndcg_at_10"]
    )


def test_the_selection_metric_comes_from_the_parameters(lifecycle):
    candidates = lifecycle["candidates"]
    runner_up = {**candidates[0], "name": "other", "cv": {"coverage_at_10_mean": 2.0}}
    chosen = PARAMS.model_copy(update={"selection_metric": "coverage_at_10"})
    best, _, _ = select_best_candidate([*candidates, runner_up], chosen)
    assert best["name"] == "other"


def test_the_gate_promotes_the_model_and_refuses_one_without_its_users_tastes(lifecycle):
    client = lifecycle["client"]
    assert lifecycle["decision"]["promoted"] is True  # the first version: nothing to beat
    refused = lifecycle["refused"]
    assert refused["promoted"] is False
    (improvement,) = [c for c in refused["checks"] if c["check"] == "improvement_ndcg_at_10"]
    assert improvement["passed"] is False
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert str(champion.version) == lifecycle["decision"]["version"]
    assert (champion.tags["task"], champion.tags["use_case"]) == ("ranking", MODEL)


def test_the_champion_serves_and_scores_as_it_was_judged(lifecycle, rows):
    task, champion = get_task("ranking"), lifecycle["champion"]
    best = lifecycle["selected"][0]
    assert champion.task == "ranking"
    answer = champion.predict(rows.holdout)
    assert list(answer.columns) == ["user_id", "rank", "item_id", "score"]
    np.testing.assert_allclose(task.monitored_scores(answer), best["holdout_scores"], rtol=1e-5)

    users = rows.holdout.drop(columns=["relevant_items", "cold_start", "timestamp"]).head(7)
    scored, summary = score_batch(champion, users, ScoringParams(id_columns=["user_id"]))
    assert scored["user_id"].tolist() == users["user_id"].tolist()
    assert scored["items"].map(len).eq(10).all() and summary["rows"] == 7
    assert (scored["score"] == scored["item_scores"].map(lambda scores: scores[0])).all()
    for items, seen in zip(scored["items"], users["seen"], strict=True):
        assert not set(items) & set(seen)  # never an item the user has had
    assert task.score_range() is None


def test_training_rows_without_a_validation_period_are_refused(rows: Rows):
    task = get_task("ranking")
    with pytest.raises(ValueError, match=r"validation period .* holds 0 of"):
        task.check_rows(rows.train.assign(validation_period=False), PARAMS, role="training")
    with pytest.raises(ValueError, match=r"lack columns \['relevant_items'"):
        task.check_rows(rows.train, PARAMS, role="holdout")

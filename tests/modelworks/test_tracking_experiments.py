"""What a reviewer finds in MLflow: one experiment per use case, one run per use case and
pipeline run holding only that use case's parameters, tags to filter every run by, and nothing
that names the machine.

The Kedro session runs in a temporary copy of the project, on a few hundred generated rows:
credit_risk ingested and trained, hotel_recommendation ingested, in one session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.io import DatasetError
from kedro.runner import SequentialRunner
from mlflow import MlflowClient
from mlflow.entities import Run

from modelworks.discovery import discover_use_cases
from modelworks.hooks import fill_use_case, reviewable_params, run_tags, use_case_tags
from modelworks.params import parse_params, to_plain
from modelworks.registry.tracking import portable
from modelworks.use_cases import UseCase
from tests.project import REPO_ROOT, copy_project, edit_params, few_trials

USE_CASES = ("credit_risk", "hotel_recommendation")


def _all_parameters() -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    for path in (REPO_ROOT / "conf" / "base" / "parameters").glob("*.yml"):
        parameters.update(yaml.safe_load(path.read_text()))
    return parameters


@pytest.mark.parametrize("use_case", discover_use_cases(), ids=lambda u: u.name)
def test_a_use_cases_run_logs_under_100_of_its_own_parameters(use_case: UseCase) -> None:
    parameters = _all_parameters()
    # typed, defaults included, as the hook hands the whole block to a node reading it
    block = to_plain(
        parse_params(use_case.params_model, parameters[use_case.name], where=use_case.name)
    )
    logged = reviewable_params({"parameters": {**parameters, use_case.name: block}}, use_case.name)
    assert 0 < len(logged) < 100
    assert {key.split(".")[0] for key in logged} <= set(block)  # no other use case's keys
    assert not [k for k in logged if k.startswith(("validation.", "training.candidates."))]
    # a node's own inputs are named as in the block, without the use case
    training = {f"params:{use_case.name}.training": block["training"]}
    typed = reviewable_params(training, use_case.name)
    assert typed and all(key.startswith("training.") for key in typed)


def test_run_tags_name_no_machine() -> None:
    tags = run_tags(
        {
            "project_path": "/somewhere/project",
            "runner": str(SequentialRunner()),
            "env": "local",
            "tags": None,
            "pipeline_names": ["credit_risk"],
        }
    )
    assert tags == {
        "runner": "SequentialRunner",
        "env": "local",
        "pipeline_names": "['credit_risk']",
    }
    assert portable(str(REPO_ROOT / "feature_repo")) == "feature_repo"
    assert portable("/elsewhere/feature_repo") == "/elsewhere/feature_repo"


def test_a_runs_kind_is_its_sub_pipeline() -> None:
    block = {"training": {"task": "binary_classification"}}
    assert use_case_tags("credit_risk", ["credit_risk_score"], block) == {
        "use_case": "credit_risk",
        "kind": "score",
        "task": "binary_classification",
    }
    assert use_case_tags("credit_risk", ["__default__"], None)["kind"] == "pipeline"
    assert use_case_tags("credit_risk", ["credit_risk"], None)["kind"] == "pipeline"
    assert fill_use_case("file:///x/mlruns/%7Buse_case%7D", "a") == "file:///x/mlruns/a"
    assert fill_use_case("team/{use_case}", "a") == "team/a"


def _tiny_credit(params: dict[str, Any]) -> None:
    params["generator"].update(n_loans=1500, history_days=150, scoring_days=7)
    params["training"].update(n_splits=2, holdout_days=30)
    params["training"]["candidates"] = {
        "lightgbm": {**params["training"]["candidates"]["lightgbm"], "max_rounds": 20}
    }
    few_trials(params, 3)  # the default search, on 2 folds like the training here


def _tiny_hotels(params: dict[str, Any]) -> None:
    params["generator"].update(n_users=300, n_hotels=60, n_periods=3)


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, MlflowClient]]:
    """One in-process session over two use cases; MLflow pointed back afterwards."""
    root = copy_project(tmp_path_factory.mktemp("tracking") / "project").resolve()
    edit_params(root, "credit_risk", _tiny_credit)
    edit_params(root, "hotel_recommendation", _tiny_hotels)
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        bootstrap_project(root)
        try:
            with KedroSession.create(project_path=root) as session:
                session.run(
                    pipeline_names=[
                        "credit_risk_ingest",
                        "credit_risk_train",
                        "hotel_recommendation_ingest",
                    ]
                )
            yield root, MlflowClient(tracking_uri=uri, registry_uri=uri)
        finally:
            while mlflow.active_run():
                mlflow.end_run()
            mlflow.set_tracking_uri(None)
            mlflow.set_registry_uri(None)


def _runs(client: MlflowClient, experiment: str) -> list[Run]:
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r}"
    return list(client.search_runs([found.experiment_id], max_results=1000))


def test_each_use_case_has_its_experiment_and_its_run(tracked: tuple[Path, MlflowClient]) -> None:
    root, client = tracked
    names = {e.name for e in client.search_experiments()}
    assert set(USE_CASES) <= names
    assert "modelworks" not in names and "{use_case}" not in names
    for use_case in USE_CASES:
        experiment = client.get_experiment_by_name(use_case)
        assert experiment is not None
        assert experiment.artifact_location == f"{(root / 'mlruns').as_uri()}/{use_case}"
        (parent,) = [r for r in _runs(client, use_case) if "mlflow.parentRunId" not in r.data.tags]
        assert parent.info.status == "FINISHED"
        assert parent.data.tags["use_case"] == use_case
        assert parent.data.tags["kind"] == "pipeline"
        assert parent.data.tags["runner"] == "SequentialRunner"
        params = parent.data.params
        assert 0 < len(params) < 100
        assert not [key for key in params if key.startswith(USE_CASES)]
    (credit,) = [r for r in _runs(client, "credit_risk") if "mlflow.parentRunId" not in r.data.tags]
    assert credit.data.tags["task"] == "binary_classification"
    assert "training.holdout_days" in credit.data.params
    assert any(key.startswith("node_seconds.credit_risk.") for key in credit.data.metrics)
    assert "holdout_roc_auc" in credit.data.metrics


def test_candidate_and_fold_runs_are_tagged_to_filter(tracked: tuple[Path, MlflowClient]) -> None:
    _, client = tracked
    runs = _runs(client, "credit_risk")
    by_kind: dict[str, list[Run]] = {}
    for run in runs:
        assert run.data.tags["use_case"] == "credit_risk", run.info.run_name
        assert run.data.tags["task"] == "binary_classification", run.info.run_name
        by_kind.setdefault(run.data.tags["kind"], []).append(run)
    (candidate,) = by_kind["candidate"]
    assert candidate.data.tags["candidate"] == "lightgbm"
    assert candidate.data.tags["modelworks.role"] == "candidate"
    assert candidate.data.params["feature_repo"] == "feature_repo"
    # the default configuration searches LightGBM: candidate -> trials -> folds
    trials = by_kind["trial"]
    assert sorted(t.data.tags["modelworks.trial"] for t in trials) == ["0", "1", "2"]
    assert {t.data.tags["mlflow.parentRunId"] for t in trials} == {candidate.info.run_id}
    assert {t.data.tags["candidate"] for t in trials} == {"lightgbm"}
    folds = by_kind["fold"]
    assert {f.data.tags["candidate"] for f in folds} == {"lightgbm"}
    assert {f.data.tags["mlflow.parentRunId"] for f in folds} <= {t.info.run_id for t in trials}
    complete = [t for t in trials if t.data.tags["modelworks.trial_state"] == "complete"]
    for trial in complete:
        assert (
            len([f for f in folds if f.data.tags["mlflow.parentRunId"] == trial.info.run_id]) == 2
        )


def test_nothing_logged_names_the_clone(tracked: tuple[Path, MlflowClient]) -> None:
    root, client = tracked
    here = root.as_posix()
    for experiment in (*USE_CASES, "modelworks-audit"):
        for run in _runs(client, experiment):
            values = {**run.data.params, **run.data.tags}
            leaked = {k: v for k, v in values.items() if here in v}
            assert not leaked, (run.info.run_name, leaked)


def test_the_audit_trail_is_tagged_with_the_use_case(tracked: tuple[Path, MlflowClient]) -> None:
    _, client = tracked
    (event,) = _runs(client, "modelworks-audit")
    assert event.data.tags["use_case"] == "credit_risk"
    assert event.data.tags["kind"] == "audit"


def test_a_failed_pipeline_run_fails_every_use_cases_run(
    tracked: tuple[Path, MlflowClient],
) -> None:
    root, client = tracked
    # flight_delays was never ingested: its training stops at its first read
    with pytest.raises(DatasetError), KedroSession.create(project_path=root) as session:
        session.run(pipeline_names=["flight_delays_train", "hotel_recommendation_ingest"])
    for use_case in ("flight_delays", "hotel_recommendation"):
        latest = _runs(client, use_case)[0]  # newest first
        assert latest.info.status == "FAILED", use_case
        assert latest.data.tags["kind"] == "pipeline"
    running = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], "attributes.status = 'RUNNING'"
    )
    assert not running

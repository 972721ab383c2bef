"""Parameter isolation: a run checks the parameters of the use cases it runs, and only those.

The Kedro sessions run in a temporary copy of the project, on a few hundred generated loans.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.pipeline import Pipeline, node, pipeline
from kedro.validation.exceptions import ParameterValidationError
from mlflow import MlflowClient

from modelworks.discovery import discover_use_cases
from modelworks.hooks import running_use_cases, validate_use_case_params
from modelworks.params import ParameterError
from tests.project import copy_project, edit_params

BAD_KEY = "learning_rat"


def _identity(*args: Any) -> Any:
    return args


def test_the_running_use_cases_are_those_of_the_nodes_not_of_the_datasets_they_read() -> None:
    with warnings.catch_warnings():  # a dotted dataset name: another use case's, as meant
        warnings.filterwarnings("ignore", message="One or more dataset names contain '.'")
        reader = pipeline(
            Pipeline([node(_identity, ["loans", "params:generator"], "episodes", name="gen")]),
            namespace="repayment_uplift",
            inputs={"loans": "credit_risk.raw_loans"},
        )
    assert [u.name for u in running_use_cases(reader)] == ["repayment_uplift"]
    writer = pipeline(
        Pipeline([node(_identity, "params:generator", "raw_loans", name="generate")]),
        namespace="credit_risk",
    )
    assert [u.name for u in running_use_cases(reader + writer)] == [
        "credit_risk",
        "repayment_uplift",
    ]
    assert running_use_cases(Pipeline([node(_identity, "a", "b", name="loose")])) == []


def test_a_missing_block_is_an_error_only_for_a_running_use_case() -> None:
    use_cases = {u.name: u for u in discover_use_cases()}
    validate_use_case_params({}, [])
    with pytest.raises(ParameterError, match="No parameters for use case 'credit_risk'"):
        validate_use_case_params({}, [use_cases["credit_risk"]])


@pytest.fixture(scope="module")
def broken_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """credit_risk small and sound; repayment_uplift with an unknown key under ``training``."""
    root = copy_project(tmp_path_factory.mktemp("hooks") / "project")
    edit_params(root, "credit_risk", lambda p: p["generator"].update(n_loans=300, history_days=60))

    def misspell(params: dict[str, Any]) -> None:
        params["training"][BAD_KEY] = 0.1

    edit_params(root, "repayment_uplift", misspell)
    return root


@pytest.fixture()
def session_in(broken_project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Kedro sessions of the copy, in this process; MLflow pointed back afterwards."""
    uri = f"sqlite:///{broken_project / 'mlruns' / 'mlflow.db'}"
    monkeypatch.chdir(broken_project)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    bootstrap_project(broken_project)
    try:
        yield broken_project
    finally:
        while mlflow.active_run():
            mlflow.end_run()
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)


def _run(root: Path, *pipeline_names: str) -> None:
    with KedroSession.create(project_path=root) as session:
        session.run(pipeline_names=list(pipeline_names))


def test_one_use_cases_bad_parameters_stop_only_its_own_runs(session_in: Path) -> None:
    root = session_in
    _run(root, "credit_risk_ingest")
    raw = root / "data" / "01_raw" / "credit_risk"
    assert {p.name for p in raw.glob("*.parquet")} == {
        "borrowers.parquet",
        "loans.parquet",
        "repayments.parquet",
        "scoring_loans.parquet",
    }

    # repayment_uplift_ingest reads no training parameters; its use case's block is still bad
    with pytest.raises(ParameterError, match=rf"repayment_uplift\.training\.{BAD_KEY}"):
        _run(root, "repayment_uplift_ingest")
    assert not list((root / "data" / "01_raw").glob("repayment_uplift/*"))
    # its training pipeline's nodes read the key: Kedro's own check of node inputs may be first
    with pytest.raises((ParameterError, ParameterValidationError), match=BAD_KEY):
        _run(root, "repayment_uplift_train")

    # stopped before kedro-mlflow opened a run for it: nothing is left RUNNING
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    client = MlflowClient(uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert [(r.info.run_name, r.info.status) for r in runs] == [("credit_risk_ingest", "FINISHED")]

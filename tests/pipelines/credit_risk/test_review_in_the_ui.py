"""What a reviewer sees in the MLflow UI after a run, read in headless Chromium.

A small project copy runs `kedro run --pipelines credit_risk`; `mlflow ui` serves its tracking
store; the use case's experiment must list its candidates (filtered by their `kind` tag) and
the champion's version page must show the gate's decision and its checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from tests.browser import browser_page, mlflow_ui, model_version_url, open_page, runs_url
from tests.project import copy_project, edit_params, few_trials, run_in

pytestmark = pytest.mark.e2e

MODEL = "credit_risk"


def _small(params: dict[str, Any]) -> None:
    few_trials(params)
    params["generator"].update(n_loans=4000, history_days=300)
    params["training"].update(n_splits=2, holdout_days=45)
    for candidate in params["training"]["candidates"].values():
        candidate["max_rounds"] = 60
    # The latency check is judged on an injected clock in tests/modelworks/registry; here, on
    # a machine busy with other tests, wall time would decide the promotion instead of the model.
    params["registry"]["gate"]["max_latency_ms"] = None


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("review") / "project")
    edit_params(root, MODEL, _small)
    run_in(root, ["kedro", "run", "--pipelines", MODEL])
    return root


@pytest.fixture(scope="module")
def ui(project: Path) -> Iterator[str]:
    with mlflow_ui(project / "mlruns" / "mlflow.db", project / "mlruns") as url:
        yield url


def _client(root: Path) -> MlflowClient:
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_the_use_case_experiment_lists_its_candidates(project: Path, ui: str) -> None:
    experiment = _client(project).get_experiment_by_name(MODEL)
    assert experiment is not None
    url = runs_url(ui, experiment.experiment_id, "tags.kind = 'candidate'")
    with browser_page() as page:
        text = open_page(page, url, wait_for="catboost", expand=MODEL)
    assert "catboost" in text and "lightgbm" in text
    assert "fold" not in text  # the filter keeps the candidates, not their folds


def test_the_champion_version_page_shows_the_gate_decision(project: Path, ui: str) -> None:
    champion = _client(project).get_model_version_by_alias(MODEL, "champion")
    url = model_version_url(ui, MODEL, str(champion.version))
    with browser_page() as page:
        text = open_page(page, url, wait_for="checks passed")
    assert "champion" in text
    assert f"promoted at {champion.tags['promotion.decided_at']}" in text
    for check in ("holdout_roc_auc", "improvement_log_loss", "data_validation", "drift"):
        assert check in text
    assert "n/a (> 0 over the champion)" in text  # the first version had no champion to beat

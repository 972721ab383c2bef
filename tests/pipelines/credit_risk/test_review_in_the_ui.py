"""What a reviewer sees in the MLflow UI after a run, read in headless Chromium.

The suite's small credit_risk run (the ``credit_risk_run`` fixture: `kedro run --pipelines
credit_risk` in a project copy) is read, never changed: `mlflow ui` serves its tracking store;
the use case's experiment must list its candidates (filtered by their `kind` tag) and the
champion's version page must show the gate's decision and its checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.browser import browser_page, mlflow_ui, model_version_url, open_page, runs_url

# with the Dask runner's test, which shares its run: the seconds are the group's
pytestmark = [pytest.mark.e2e(seconds=500), pytest.mark.xdist_group("credit_risk_run")]

MODEL = "credit_risk"


@pytest.fixture(scope="module")
def ui(credit_risk_run: Path) -> Iterator[str]:
    root = credit_risk_run
    with mlflow_ui(root / "mlruns" / "mlflow.db", root / "mlruns") as url:
        yield url


def _client(root: Path) -> MlflowClient:
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_the_use_case_experiment_lists_its_candidates(credit_risk_run: Path, ui: str) -> None:
    experiment = _client(credit_risk_run).get_experiment_by_name(MODEL)
    assert experiment is not None
    url = runs_url(ui, experiment.experiment_id, "tags.kind = 'candidate'")
    with browser_page() as page:
        text = open_page(page, url, wait_for="catboost", expand=MODEL)
    assert "catboost" in text and "lightgbm" in text
    assert "fold" not in text  # the filter keeps the candidates, not their folds


def test_the_champion_version_page_shows_the_gate_decision(credit_risk_run: Path, ui: str) -> None:
    champion = _client(credit_risk_run).get_model_version_by_alias(MODEL, "champion")
    url = model_version_url(ui, MODEL, str(champion.version))
    with browser_page() as page:
        text = open_page(page, url, wait_for="checks passed")
    assert "champion" in text
    assert f"promoted at {champion.tags['promotion.decided_at']}" in text
    for check in ("holdout_roc_auc", "improvement_log_loss", "data_validation", "drift"):
        assert check in text
    assert "n/a (> 0 over the champion)" in text  # the first version had no champion to beat

"""A bad batch after a champion exists never reaches what the champion serves.

One small project copy trains a champion (``kedro run --pipelines credit_risk``), then is fed
two bad batches through ``credit_risk_train``: half of the repayments file, which passes every
raw-table rule but thins each borrower's history, and empty loans and repayments tables. Each
run fails and says why in its report; afterwards the champion's batch scores (a fresh
``credit_risk_score``) and its online scores (entity keys and request fields, features from
Feast's online store) are what they were, and the registry holds the same versions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.project import copy_project, edit_params, few_trials, run_in

pytestmark = pytest.mark.e2e(seconds=400)

MODEL = "credit_risk"


def _small(params: dict[str, Any]) -> None:
    few_trials(params)
    params["generator"].update(n_loans=4000, history_days=300)
    params["training"].update(n_splits=2, holdout_days=45)
    params["training"]["candidates"] = {
        "lightgbm": {**params["training"]["candidates"]["lightgbm"], "max_rounds": 100}
    }
    # The latency check is judged on an injected clock in tests/modelworks/registry; here, on
    # a machine busy with other tests, wall time would decide the promotion instead of the model.
    params["registry"]["gate"]["max_latency_ms"] = None


def _client(root: Path) -> MlflowClient:
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _raw(root: Path, table: str) -> Path:
    return root / "data" / "01_raw" / MODEL / f"{table}.parquet"


def _report(root: Path, name: str) -> dict[str, Any]:
    return json.loads((root / "data" / "08_reporting" / MODEL / name).read_text())


def _batch_scores(root: Path) -> pd.DataFrame:
    run_in(root, ["kedro", "run", "--pipelines", "credit_risk_score"])
    predictions = root / "data" / "07_model_output" / MODEL / "predictions.parquet"
    return pd.read_parquet(predictions)[["loan_id", "score", "model_version"]]


def _online_scores(root: Path, requests: pd.DataFrame) -> Any:
    """The champion as `modelworks serve` loads it, features read from the online store."""
    from modelworks.serving.datasets import RegisteredModelDataset

    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)  # Feast's repo path is relative to the project root
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        try:
            served = RegisteredModelDataset(MODEL).load()
            schema = served.pyfunc.metadata.get_input_schema()
            sent = requests[[spec.name for spec in schema.inputs if spec.required]]
            return served.predict(sent)
        finally:
            mlflow.set_tracking_uri(None)
            mlflow.set_registry_uri(None)


def _run_statuses(root: Path) -> list[str]:
    client = _client(root)
    experiments = [e.experiment_id for e in client.search_experiments()]
    return [r.info.status for r in client.search_runs(experiments, max_results=1000)]


def _state(root: Path) -> dict[str, Any]:
    """What the champion serves from, and what the registry holds."""
    features = root / "data" / "04_feature" / MODEL
    return {
        "published": {p.name: p.read_bytes() for p in sorted(features.glob("*.parquet"))},
        "profile": (features / "published_profile.json").read_text(),
        "versions": sorted(
            str(v.version) for v in _client(root).search_model_versions(f"name='{MODEL}'")
        ),
        "champion": str(_client(root).get_model_version_by_alias(MODEL, "champion").version),
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = copy_project(tmp_path_factory.mktemp("bad_batches") / "project")
    edit_params(root, MODEL, _small)
    run_in(root, ["kedro", "run", "--pipelines", MODEL])
    requests = pd.read_parquet(_raw(root, "scoring_loans")).head(25)
    yield {
        "root": root,
        "requests": requests,
        "batch": _batch_scores(root),
        "online": _online_scores(root, requests),
        "state": _state(root),
        "good": {t: _raw(root, t).read_bytes() for t in ("loans", "repayments")},
    }


def _restore(project: dict[str, Any]) -> None:
    for table, content in project["good"].items():
        _raw(project["root"], table).write_bytes(content)


def _assert_champion_serves_as_before(project: dict[str, Any]) -> None:
    root = project["root"]
    assert _state(root) == project["state"]
    pd.testing.assert_frame_equal(_batch_scores(root), project["batch"])
    assert (_online_scores(root, project["requests"]) == project["online"]).all()


def test_a_half_size_repayments_file_is_not_published(project: dict[str, Any]) -> None:
    root = project["root"]
    repayments = pd.read_parquet(_raw(root, "repayments"))
    repayments.iloc[::2].to_parquet(_raw(root, "repayments"))
    try:
        failed = _run_statuses(root).count("FAILED")
        result = run_in(root, ["kedro", "run", "--pipelines", "credit_risk_train"], check=False)
        assert result.returncode != 0
        assert _run_statuses(root).count("FAILED") == failed + 1
        assert "RUNNING" not in _run_statuses(root)
        assert _report(root, "validation_report.json")["success"] is True  # raw rules all pass
        report = _report(root, "feature_check_report.json")
        assert report["success"] is False
        history = report["tables"]["borrower_repayment_history"]
        assert history["success"] is False
        assert history["rows"] < 0.75 * history["published_rows"]
        [rows] = [
            f
            for f in report["failures"]
            if (f["table"], f["column"]) == ("borrower_repayment_history", "(rows)")
        ]
        assert rows["expectation"] == "row_count_vs_published"
        assert rows["rule"] == (
            f"must keep at least 75% of the {history['published_rows']} rows last published"
        )
        assert report["tables"]["borrower_profile"]["success"] is True
        _assert_champion_serves_as_before(project)
    finally:
        _restore(project)


def test_empty_loans_and_repayments_stop_at_validation(project: dict[str, Any]) -> None:
    root = project["root"]
    for table in ("loans", "repayments"):
        pd.read_parquet(_raw(root, table)).iloc[:0].to_parquet(_raw(root, table))
    try:
        failed = _run_statuses(root).count("FAILED")
        result = run_in(root, ["kedro", "run", "--pipelines", "credit_risk_train"], check=False)
        assert result.returncode != 0
        assert _run_statuses(root).count("FAILED") == failed + 1
        assert "RUNNING" not in _run_statuses(root)
        report = _report(root, "validation_report.json")
        assert report["success"] is False
        counts = {
            f["table"]: (f["rule"], f["observed"])
            for f in report["failures"]
            if f["column"] == "(rows)"
        }
        assert counts == {
            "loans": ("must hold at least 1000 rows", "0 rows"),
            "repayments": ("must hold at least 1 row", "0 rows"),
        }
        _assert_champion_serves_as_before(project)
    finally:
        _restore(project)


def test_a_good_batch_after_the_bad_ones_publishes_and_trains(project: dict[str, Any]) -> None:
    root = project["root"]
    run_in(root, ["kedro", "run", "--pipelines", "credit_risk_train"])
    report = _report(root, "feature_check_report.json")
    assert report["success"] is True
    assert (
        report["tables"]["borrower_repayment_history"]["rows"]
        == (report["tables"]["borrower_repayment_history"]["published_rows"])
    )
    versions = _client(root).search_model_versions(f"name='{MODEL}'")
    assert len(versions) == len(project["state"]["versions"]) + 1
    assert "RUNNING" not in _run_statuses(root)


def test_a_read_only_reporting_folder_stops_scoring_before_it_writes(
    project: dict[str, Any],
) -> None:
    """The reporting folder mounted read-only (binding root too), in a mount namespace of the
    run's own: scoring must not rewrite the predictions it could not summarise."""
    root = project["root"]
    reporting = root / "data" / "08_reporting" / MODEL
    predictions = root / "data" / "07_model_output" / MODEL / "predictions.parquet"
    before = (predictions.read_bytes(), (reporting / "prediction_summary.json").read_bytes())
    script = (
        f"mount --bind -o ro {reporting} {reporting} && "
        "exec kedro run --pipelines credit_risk_score"
    )

    result = run_in(
        root, ["unshare", "-m", "--propagation", "private", "sh", "-c", script], check=False
    )

    assert result.returncode != 0
    said = "".join(line.strip() for line in result.stderr.splitlines())  # unwrapped
    assert "OutputsNotWritableError" in said
    listed = said.split(f"{reporting}: for ", 1)[1]  # the datasets of the folder it names
    assert f"{MODEL}.prediction_summary" in listed
    assert (
        predictions.read_bytes(),
        (reporting / "prediction_summary.json").read_bytes(),
    ) == before

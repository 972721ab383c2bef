"""credit_risk end to end, on small generated data, in a temporary copy of the project.

Run 1 goes through `dvc repro` on an unshifted scoring batch, then batch scoring, and a
retrain that finds no reason to train; run 2 (`kedro run`) injects a shift and trains
deliberately weak candidates, after which the retrain pipeline does train; run 3 feeds the
gate a corrupted table. A separate copy trains on CSV files supplied through the catalog.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from modelworks.io import content_md5
from pipelines.credit_risk.generator import GeneratorParams, generate_credit_data
from tests.project import copy_project, edit_params, few_trials, run_in

pytestmark = pytest.mark.e2e(seconds=900)

MODEL = "credit_risk"
N_SPLITS = 3


def _small(params: dict[str, Any]) -> None:
    few_trials(params)
    params["generator"].update(n_loans=6000, history_days=300)
    params["training"].update(n_splits=N_SPLITS, holdout_days=45)
    for candidate in params["training"]["candidates"].values():
        candidate["max_rounds"] = 300
    # The latency check is judged on an injected clock in tests/modelworks/registry; here, on
    # a machine busy with other tests, wall time would decide the promotion instead of the model.
    params["registry"]["gate"]["max_latency_ms"] = None


def _client(root: Path) -> MlflowClient:
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _report(root: Path, name: str) -> dict[str, Any]:
    return json.loads((root / "data" / "08_reporting" / MODEL / name).read_text())


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("credit_risk") / "project")
    edit_params(root, MODEL, _small)
    run_in(root, ["dvc", "repro", "credit_risk_train"])
    run_in(root, ["kedro", "run", "--pipelines", "credit_risk_score"])
    return root


@pytest.fixture(scope="module")
def second_run(first_run: Path) -> Path:
    weak = ",".join(
        [
            "credit_risk.generator.shift.enabled=true",
            "credit_risk.training.candidates.catboost.max_rounds=2",
            "credit_risk.training.candidates.catboost.params.learning_rate=0.001",
            "credit_risk.training.candidates.lightgbm.max_rounds=2",
            "credit_risk.training.candidates.lightgbm.params.learning_rate=0.001",
        ]
    )
    run_in(first_run, ["kedro", "run", "--pipelines", MODEL, "--params", weak])
    return first_run


def test_first_run_makes_a_champion(first_run: Path) -> None:
    client = _client(first_run)
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert str(champion.version) == "1"
    assert champion.tags["promotion.decision"] == "promoted"
    assert all(
        value.startswith("pass") for key, value in champion.tags.items() if key.startswith("gate.")
    )
    metrics = _report(first_run, "holdout_metrics.json")
    assert metrics["holdout_roc_auc"] > 0.65
    assert champion.tags["holdout.roc_auc"] == f"{metrics['holdout_roc_auc']:.6f}"
    raw = first_run / "data" / "01_raw" / MODEL / "loans.parquet"
    assert champion.tags["lineage.data.loans.md5"] == content_md5(str(raw))[0]


def test_batch_scoring_uses_the_champion(first_run: Path) -> None:
    predictions = pd.read_parquet(
        first_run / "data" / "07_model_output" / MODEL / "predictions.parquet"
    )
    scoring = pd.read_parquet(first_run / "data" / "01_raw" / MODEL / "scoring_loans.parquet")
    assert sorted(predictions["loan_id"]) == sorted(scoring["loan_id"])
    assert set(predictions["model_version"]) == {"1"}
    assert predictions["score"].between(0, 1).all()
    summary = _report(first_run, "prediction_summary.json")
    assert summary["rows"] == len(scoring) and summary["model_version"] == "1"


def test_every_scoring_batch_gets_its_monitoring_report(first_run: Path) -> None:
    page = (first_run / "data" / "08_reporting" / MODEL / "monitoring_report.html").read_text()
    assert "Monitoring of credit_risk v1" in page
    for heading in ("Feature drift", "Prediction drift", "Performance", "Retrain decision"):
        assert f"<h2>{heading}" in page
    client = _client(first_run)
    # Whichever experiment the project's MLflow configuration puts the use case in.
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    (scoring_run,) = client.search_runs(experiments, "tags.`mlflow.runName` = 'credit_risk_score'")
    logged = {a.path for a in client.list_artifacts(scoring_run.info.run_id, "reports")}
    assert "reports/monitoring_report.html" in logged


def test_one_nested_run_per_fold(first_run: Path) -> None:
    client = _client(first_run)
    experiment = client.get_experiment_by_name(MODEL)
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    pipeline_runs = {
        r.info.run_id for r in runs if r.data.tags.get("mlflow.runName") == "credit_risk_train"
    }
    candidates = [
        r
        for r in runs
        if r.data.tags.get("modelworks.role") == "candidate"
        and r.data.tags.get("mlflow.parentRunId") in pipeline_runs
    ]
    assert {r.data.tags["modelworks.candidate"] for r in candidates} == {"catboost", "lightgbm"}

    def children(parent: str, role: str) -> list[Any]:
        return [
            r
            for r in runs
            if r.data.tags.get("mlflow.parentRunId") == parent
            and r.data.tags.get("modelworks.role") == role
        ]

    for candidate in candidates:
        # every candidate is cross-validated on the training's folds; the default configuration
        # also searches LightGBM, each trial on the search's 2 folds
        folds = children(candidate.info.run_id, "fold")
        assert sorted(int(r.data.tags["modelworks.fold"]) for r in folds) == list(range(N_SPLITS))
        assert all("roc_auc" in r.data.metrics for r in folds)
        trials = children(candidate.info.run_id, "trial")
        searched = candidate.data.tags["modelworks.candidate"] == "lightgbm"
        assert len(trials) == (4 if searched else 0)
        for trial in trials:
            if trial.data.tags["modelworks.trial_state"] == "complete":
                assert len(children(trial.info.run_id, "fold")) == 2
        pipeline_run = client.get_run(candidate.data.tags["mlflow.parentRunId"])
        assert pipeline_run.data.tags["mlflow.runName"] == "credit_risk_train"
        # every node's wall time is a metric of the pipeline's run
        node_seconds = pipeline_run.data.metrics["node_seconds.credit_risk.train_candidates"]
        # model fitting is a part of the node's time, measured inside the candidate's run
        assert 0 < candidate.data.metrics["fit_seconds"] < node_seconds
        artifacts = {a.path for a in client.list_artifacts(candidate.info.run_id, "plots")}
        assert {f"plots/{p}.png" for p in ("roc", "precision_recall", "calibration")} <= artifacts


def test_dvc_status_is_clean_after_repro(first_run: Path) -> None:
    result = run_in(first_run, ["dvc", "status", "credit_risk_ingest", "credit_risk_train"])
    assert "up to date" in result.stdout


def test_unshifted_batch_shows_no_drift(first_run: Path) -> None:
    summary = _report(first_run, "drift_summary.json")
    assert summary["n_current"] > 0
    assert summary["drift_detected"] is False
    assert (first_run / "data" / "08_reporting" / MODEL / "drift_report.html").is_file()


def test_point_in_time_training_set(first_run: Path) -> None:
    """No feature value stamped after a loan's application time reaches that loan's row."""
    training = pd.read_parquet(
        first_run / "data" / "05_model_input" / MODEL / "training_set.parquet"
    )
    history = pd.read_parquet(
        first_run / "data" / "04_feature" / MODEL / "borrower_repayment_history.parquet"
    )
    rows = training[["loan_id", "borrower_id", "applied_at", "payments_count_90d"]]
    joined = rows.merge(history, on="borrower_id", suffixes=("", "_fv"))
    known = joined[joined["event_timestamp"] <= joined["applied_at"]]
    window = known[known["event_timestamp"] >= known["applied_at"] - pd.Timedelta(days=90)]
    expected = (
        window.sort_values("event_timestamp")
        .groupby("loan_id")["payments_count_90d_fv"]
        .last()
        .reindex(rows["loan_id"])
    )
    actual = rows.set_index("loan_id")["payments_count_90d"]
    pd.testing.assert_series_equal(
        actual.astype("float64"), expected.astype("float64"), check_names=False
    )
    # the loans' own repayments come after their application, so they are never visible
    assert training["payments_count_90d"].notna().any()


def test_a_retrain_without_a_reason_trains_nothing(first_run: Path) -> None:
    client = _client(first_run)
    versions_before = len(client.search_model_versions(f"name='{MODEL}'"))

    run_in(first_run, ["kedro", "run", "--pipelines", "credit_risk_retrain"])

    decision = _report(first_run, "retrain_decision.json")
    assert decision["retrain"] is False and decision["champion_version"] == "1"
    assert {t["trigger"] for t in decision["triggers"]} >= {"drift", "estimated_drop", "age"}
    assert not any(t["fired"] for t in decision["triggers"])
    assert len(client.search_model_versions(f"name='{MODEL}'")) == versions_before
    assert _report(first_run, "registry_decision.json")["action"] == "skipped"
    experiment = client.get_experiment_by_name(MODEL)
    (retrain_run,) = client.search_runs(
        [experiment.experiment_id], "tags.`mlflow.runName` = 'credit_risk_retrain'"
    )
    children = client.search_runs(
        [experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{retrain_run.info.run_id}'"
    )
    assert children == []  # no candidate, no fold
    summary = _report(first_run, "monitoring_summary.json")
    assert summary["model_version"] == "1" and summary["estimated_performance"]["roc_auc"] > 0.6
    assert (first_run / "data" / "08_reporting" / MODEL / "monitoring_report.html").is_file()


def test_second_run_with_worse_model_keeps_champion(second_run: Path) -> None:
    client = _client(second_run)
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "1"
    challenger = client.get_model_version(MODEL, "2")
    assert challenger.tags["promotion.decision"] == "rejected"
    assert "improvement_log_loss FAIL" in challenger.tags["promotion.reason"]
    decision = _report(second_run, "registry_decision.json")
    assert decision["promoted"] is False and decision["champion_after"] == "1"
    checks = {check["check"]: check for check in decision["checks"]}
    assert checks["improvement_log_loss"]["value"] < 0
    assert not checks["drift"]["passed"]  # the shifted batch is critical drift too
    # Turned down only on waivable checks: it shadows the champion and scored the batch too.
    assert decision["shadow"] == "challenger"
    assert str(client.get_model_version_by_alias(MODEL, "challenger").version) == "2"
    output = second_run / "data" / "07_model_output" / MODEL
    champion_scores = pd.read_parquet(output / "predictions.parquet")
    shadow_scores = pd.read_parquet(output / "shadow_predictions.parquet")
    assert set(shadow_scores["model_version"]) == {"2"}
    assert set(shadow_scores["alias"]) == {"challenger"}
    assert sorted(shadow_scores["loan_id"]) == sorted(champion_scores["loan_id"])


def test_history_lineage_and_reproduce_from_the_command_line(second_run: Path) -> None:
    history = run_in(second_run, ["modelworks", "history", MODEL, "--json"]).stdout
    events = [json.loads(line) for line in history.splitlines()]
    assert [(e["action"], e["version"]) for e in events] == [
        ("promoted", "1"),
        ("rejected", "2"),
        ("shadowed", "2"),
    ]

    lineage = json.loads(
        run_in(second_run, ["modelworks", "lineage", f"{MODEL}@champion", "--json"]).stdout
    )
    assert lineage["training"]["use_case"] == MODEL
    assert lineage["features"]["service"] == "credit_risk_service"
    assert set(lineage["features"]["feature_views"]) == {
        "borrower_profile_fv",
        "borrower_repayment_history_fv",
    }
    assert set(lineage["data"]) == {"borrowers", "loans", "repayments", "scoring_loans"}
    assert lineage["validation"]["success"] is True
    assert lineage["parameters"]["training"]["n_splits"] == N_SPLITS
    assert len(lineage["git"]["commit"]) == 40

    # The second run regenerated the raw tables: v1's data now lives only in DVC's cache.
    reproduced = run_in(second_run, ["modelworks", "reproduce", f"{MODEL}@champion"])
    assert "v1 matches its recorded holdout metrics" in reproduced.stdout
    version = _client(second_run).get_model_version(MODEL, "1")
    assert version.tags["reproduce.result"] == "matches"


def test_shifted_batch_is_flagged(second_run: Path) -> None:
    summary = _report(second_run, "drift_summary.json")
    assert summary["drift_detected"] is True
    drifted = {f["feature"] for f in summary["features"] if f["verdict"] == "critical"}
    assert drifted & {"acquisition_channel", "amount", "monthly_income", "device_os"}


def test_a_retrain_after_the_shift_trains_and_goes_through_the_gate(second_run: Path) -> None:
    client = _client(second_run)
    versions_before = len(client.search_model_versions(f"name='{MODEL}'"))

    run_in(second_run, ["kedro", "run", "--pipelines", "credit_risk_retrain"])

    decision = _report(second_run, "retrain_decision.json")
    assert decision["retrain"] is True
    assert any(t["trigger"] == "drift" and t["fired"] for t in decision["triggers"])
    versions = client.search_model_versions(f"name='{MODEL}'")
    assert len(versions) == versions_before + 1
    registered = _report(second_run, "registry_decision.json")
    # The challenger learnt the shifted loans, but the batch it would score is still critically
    # different from its reference (max_drift: warn), so the gate keeps v1.
    assert registered["action"] == "rejected" and registered["champion_after"] == "1"
    checks = {check["check"]: check for check in registered["checks"]}
    assert checks["drift"]["passed"] is False
    history = run_in(second_run, ["modelworks", "history", MODEL, "--json"]).stdout
    assert json.loads(history.splitlines()[-1])["version"] == registered["version"]
    # The challenger in shadow was judged first: no loan applied after it was trained has a
    # label yet, so there is no live evidence and nothing moved.
    live = _report(second_run, "live_decisions.json")
    assert [(e["challenger_version"], e["n_rows"]) for e in live["evidence"]] == [("2", 0)]
    assert live["promoted"] is None
    monitoring = [
        json.loads(line)
        for line in (second_run / "data" / "08_reporting" / MODEL / "monitoring_history.jsonl")
        .read_text()
        .splitlines()
    ]
    assert [run["verdict"] for run in monitoring][-1] == "critical"
    # One per monitoring run: scoring and the retrain without a reason (quiet), the second
    # `kedro run` (which scores and monitors the shifted batch), then this one.
    assert len(monitoring) == 4
    assert all("retrain_decision" in run for run in monitoring)


def test_own_csv_files_train_through_the_same_pipeline(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "project")
    edit_params(root, MODEL, _small)
    sources = tmp_path / "lender"
    sources.mkdir()
    tables = generate_credit_data(GeneratorParams(seed=7, n_loans=6000, history_days=300))
    catalog = {}
    for table, frame in tables.items():
        path = sources / f"{table}.csv"
        frame.to_csv(path, index=False)
        timestamps = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
        catalog[f"{MODEL}.raw_{table}"] = {
            "type": "modelworks.io.SourceTableDataset",
            "filepath": str(path),
            "timestamps": timestamps,
        }
    (root / "conf" / "local" / "catalog.yml").write_text(yaml.safe_dump(catalog))
    supplied = {path.name: path.read_bytes() for path in sources.iterdir()}

    run_in(root, ["kedro", "run", "--pipelines", "credit_risk_train"])

    champion = _client(root).get_model_version_by_alias(MODEL, "champion")
    assert float(champion.tags["holdout.roc_auc"]) > 0.65
    training = pd.read_parquet(root / "data" / "05_model_input" / MODEL / "training_set.parquet")
    assert sorted(training["loan_id"]) == sorted(tables["loans"]["loan_id"])

    # The whole pipeline would regenerate the raw tables: it stops instead of overwriting them.
    result = run_in(root, ["kedro", "run", "--pipelines", MODEL], check=False)
    assert result.returncode != 0
    assert "source table you supplied" in result.stdout + result.stderr
    assert {path.name: path.read_bytes() for path in sources.iterdir()} == supplied


def test_failed_gate_stops_before_anything_is_trained(second_run: Path) -> None:
    root = second_run
    raw = root / "data" / "01_raw" / MODEL / "loans.parquet"
    loans = pd.read_parquet(raw)
    bad = loans.copy()
    bad.loc[bad.index[:3], "amount"] = -50.0
    bad.to_parquet(raw)
    training_set = root / "data" / "05_model_input" / MODEL / "training_set.parquet"
    before = training_set.stat().st_mtime_ns
    versions_before = len(_client(root).search_model_versions(f"name='{MODEL}'"))

    result = run_in(root, ["kedro", "run", "--pipelines", "credit_risk_train"], check=False)

    assert result.returncode != 0
    assert "loans.amount" in result.stderr
    assert "expect_column_values_to_be_between" in result.stderr
    report = _report(root, "validation_report.json")
    assert report["success"] is False
    assert any(
        f["table"] == "loans" and f["column"] == "amount" and -50.0 in f["sample_values"]
        for f in report["failures"]
    )
    assert training_set.stat().st_mtime_ns == before
    assert len(_client(root).search_model_versions(f"name='{MODEL}'")) == versions_before

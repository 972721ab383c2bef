"""repayment_uplift end to end, on small generated data, in a temporary copy of the project.

One `kedro run` of credit_risk and repayment_uplift together, up to the call list and to
credit_risk's feature store (its model is not needed): Kedro orders credit_risk's loan book and
feature tables before the collections experiment that reads them, then trains, registers and
writes the call list. `repayment_uplift_monitor` then reveals the outcomes of the call list and
measures its holdouts. The generator's true effects say how well the champion ranks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from scipy.stats import spearmanr

from modelworks.serving.pyfunc import UnknownEntityError
from modelworks.uplift import HOLDOUT_CONTROL, HOLDOUT_TREATED, TARGETED
from modelworks.uplift.serving import OUTPUT_COLUMNS, predict_served
from tests.project import copy_project, edit_params, few_trials, run_in

pytestmark = pytest.mark.e2e(seconds=600)

MODEL = "repayment_uplift"
N_SPLITS = 3
COST = 100.0
CANDIDATES = {
    ("s_learner", "lightgbm"),
    ("t_learner", "lightgbm"),
    ("s_learner", "catboost"),
    ("t_learner", "catboost"),
}
# The champion's predicted uplift on the ~700 scoring episodes of this test's data against the
# generator's true uplift, measured with seeds 42, 1 and 7 (credit_risk's and this generator's):
# Spearman 0.65, 0.59, 0.63 and top-30 % capture 0.79, 0.74, 0.76 (a random ranking captures
# 0.45-0.47). The generator's docstring quotes 0.65 and 0.82 for LightGBM on the default data.
MIN_SPEARMAN = 0.45
MIN_TOP_30_CAPTURE = 0.6
# An improvement margin for the retrain's challenger that no two normalised Qini coefficients
# (shares of the perfect ranking's area) differ by: the gate's verdict is decided in advance.
UNBEATABLE_MIN_DELTA = 10.0


def _small_credit_risk(params: dict[str, Any]) -> None:
    few_trials(params)
    params["generator"].update(n_loans=20_000, history_days=360)  # ~3,700 collections episodes


def _small_uplift(params: dict[str, Any]) -> None:
    params["generator"].update(scoring_days=60)  # a larger batch to target and monitor
    params["training"].update(n_splits=N_SPLITS, holdout_days=60)
    for candidate in params["training"]["candidates"].values():
        candidate.update(max_rounds=300, early_stopping_rounds=20)
    params["registry"]["gate"]["improvement"]["paired_test"]["n_resamples"] = 100
    params["registry"]["gate"]["max_latency_ms"] = 500  # a busy test machine, not the model
    # A few hundred holdout rows give a noisy Qini: the gate asks for better than random, and
    # the tests below check the ranking against the true uplift instead.
    params["registry"]["gate"]["thresholds"]["qini_coefficient"]["min"] = 0.0


def _retrain_now_against_an_unbeatable_margin(params: dict[str, Any]) -> None:
    params["retrain"].update(max_age_days=0.01)
    params["registry"]["gate"]["improvement"]["min_delta"] = UNBEATABLE_MIN_DELTA


def _client(root: Path) -> MlflowClient:
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _read(root: Path, layer: str, name: str) -> Any:
    path = root / "data" / layer / MODEL / name
    return pd.read_parquet(path) if path.suffix == ".parquet" else json.loads(path.read_text())


def ranking_against_truth(root: Path | str = ".") -> dict[str, float]:
    """The call list's predicted uplift against the generator's true uplift: Spearman, and the
    true uplift of its top 30 % as a share of the most any 30 % of the episodes holds.

    Also the README's figures, in a project that ran ``repayment_uplift``::

        .venv/bin/python -c "from tests.pipelines.repayment_uplift.test_end_to_end import \\
    ranking_against_truth; print(ranking_against_truth())"
    """
    data = Path(root) / "data"
    calls = pd.read_parquet(data / "07_model_output" / MODEL / "call_list.parquet")
    truth = pd.read_parquet(data / "01_raw" / MODEL / "true_effects.parquet")
    scored = calls.merge(truth[["episode_id", "uplift"]], on="episode_id", suffixes=("", "_true"))
    k = int(0.3 * len(scored))
    chosen = scored.nlargest(k, "uplift")["uplift_true"].sum()
    best = scored.nlargest(k, "uplift_true")["uplift_true"].sum()
    return {
        "episodes": len(scored),
        "spearman": float(spearmanr(scored["uplift"], scored["uplift_true"]).statistic),
        "top_30_capture": float(chosen / best),
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("repayment_uplift") / "project")
    edit_params(root, "credit_risk", _small_credit_risk)
    edit_params(root, MODEL, _small_uplift)
    run_in(
        root,
        [
            "kedro",
            "run",
            "--pipelines",
            f"credit_risk,{MODEL}",
            "--to-outputs",
            f"credit_risk.feature_store_state,{MODEL}.call_list",
        ],
    )
    run_in(root, ["kedro", "run", "--pipelines", f"{MODEL}_monitor"])
    return root


def test_the_champion_is_registered_with_its_charts_and_lineage(project: Path) -> None:
    client = _client(project)
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert str(champion.version) == "1"
    assert champion.tags["promotion.decision"] == "promoted"
    gate = {k: v for k, v in champion.tags.items() if k.startswith("gate.")}
    assert "gate.holdout_qini_coefficient" in gate and all(
        v.startswith("pass") for v in gate.values()
    )
    metrics = _read(project, "08_reporting", "holdout_metrics.json")
    assert champion.tags["modelworks.candidate"] == metrics["candidate"]
    assert metrics["holdout_qini_coefficient"] > 0
    assert 0 < metrics["holdout_profitable_fraction"] < 1
    plots = {a.path for a in client.list_artifacts(champion.run_id, "plots")}
    assert {
        "plots/qini.png",
        "plots/uplift_by_decile.png",
        "plots/revenue_uplift_by_decile.png",
        "plots/persuadable_segments.png",
    } <= plots
    lineage = _read(project, "06_models", "lineage.json")
    assert lineage["features"]["service"] == "repayment_uplift_service"
    assert set(lineage["features"]["feature_views"]) == {
        "borrower_profile_fv",
        "borrower_repayment_history_fv",
        "borrower_call_history_fv",
        "borrower_app_activity_fv",
    }
    assert set(lineage["data"]) == {"episodes", "scoring_episodes", "call_log", "app_events"}


def test_one_nested_run_per_fold_with_both_arms_in_each(project: Path) -> None:
    client = _client(project)
    experiment = client.get_experiment_by_name(MODEL)
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    candidates = [
        r
        for r in runs
        if r.data.tags.get("modelworks.role") == "candidate"
        and r.data.tags.get("modelworks.learner")
    ]
    assert {
        (r.data.tags["modelworks.learner"], r.data.tags["modelworks.adapter"]) for r in candidates
    } == CANDIDATES
    for candidate in candidates:
        folds = [
            r
            for r in runs
            if r.data.tags.get("mlflow.parentRunId") == candidate.info.run_id
            and r.data.tags.get("modelworks.role") == "fold"
        ]
        assert sorted(int(r.data.tags["modelworks.fold"]) for r in folds) == list(range(N_SPLITS))
        for fold in folds:
            assert fold.data.metrics["n_treated"] > 0 and fold.data.metrics["n_control"] > 0
            assert "qini_coefficient" in fold.data.metrics
        assert "cv_qini_coefficient_mean" in candidate.data.metrics


def test_the_champion_ranks_episodes_by_their_true_uplift(project: Path) -> None:
    ranking = ranking_against_truth(project)
    assert ranking["episodes"] == len(_read(project, "07_model_output", "call_list.parquet"))
    assert ranking["spearman"] > MIN_SPEARMAN
    assert ranking["top_30_capture"] > MIN_TOP_30_CAPTURE


def test_the_call_list_keeps_its_random_holdouts(project: Path) -> None:
    calls = _read(project, "07_model_output", "call_list.parquet")
    scoring = pd.read_parquet(project / "data" / "01_raw" / MODEL / "scoring_episodes.parquet")
    assert sorted(calls["episode_id"]) == sorted(scoring["episode_id"])
    assert set(calls["model_version"]) == {"1"}
    n = len(calls)
    groups = calls["group"].value_counts()
    for group in (HOLDOUT_TREATED, HOLDOUT_CONTROL):
        assert abs(groups[group] - 0.05 * n) <= 4 * np.sqrt(n * 0.05 * 0.95), group
    assert (calls.loc[calls["group"] == HOLDOUT_TREATED, "treat"] == 1).all()
    assert (calls.loc[calls["group"] == HOLDOUT_CONTROL, "treat"] == 0).all()
    targeted = calls[calls["group"] == TARGETED]
    assert (targeted["treat"] == (targeted["revenue_uplift"] > COST)).all()
    assert calls["revenue_uplift"].is_monotonic_decreasing and list(calls["rank"]) == list(
        range(1, n + 1)
    )
    summary = _read(project, "08_reporting", "call_list_summary.json")
    assert summary["treated"] == int(calls["treat"].sum())


def test_monitoring_measures_the_realised_uplift_per_decile(project: Path) -> None:
    calls = _read(project, "07_model_output", "call_list.parquet")
    outcomes = _read(project, "03_primary", "call_outcomes.parquet")
    report = _read(project, "08_reporting", "holdout_uplift.json")
    held = calls[calls["group"] != TARGETED].merge(outcomes, on="episode_id")
    assert report["n_holdout_treated"] == (held["group"] == HOLDOUT_TREATED).sum()
    assert report["n_holdout_control"] == (held["group"] == HOLDOUT_CONTROL).sum()
    deciles = pd.DataFrame(report["deciles"]).set_index("decile")
    assert deciles["rows"].sum() == len(held)
    for decile, rows in held.groupby("decile"):
        by_arm = rows.groupby("group")["repaid"].mean()
        expected = by_arm.get(HOLDOUT_TREATED, np.nan) - by_arm.get(HOLDOUT_CONTROL, np.nan)
        actual = deciles.loc[decile, "uplift"]
        assert pd.isna(actual) if np.isnan(expected) else actual == pytest.approx(expected)
    summary = _read(project, "08_reporting", "monitoring_summary.json")
    assert summary["holdout_uplift"]["n_holdout_treated"] == report["n_holdout_treated"]
    assert summary["features"] and summary["prediction_drift"]["n_current"] == len(calls)
    decision = _read(project, "08_reporting", "retrain_decision.json")
    assert {t["trigger"] for t in decision["triggers"]} == {"drift", "age", "realised_qini_drop"}


def test_collections_features_are_point_in_time(project: Path) -> None:
    """Each episode sees exactly the app sessions of the 7 days before it started, and the
    shared repayment history as of its start, never after."""
    training = _read(project, "05_model_input", "training_set.parquet")
    sessions = pd.read_parquet(project / "data" / "01_raw" / MODEL / "app_events.parquet")
    pairs = training[["episode_id", "borrower_id", "started_at"]].merge(sessions, on="borrower_id")
    age = pairs["started_at"] - pairs["occurred_at"]
    recent = pairs[(age >= pd.Timedelta(0)) & (age < pd.Timedelta(days=7))]
    expected = recent.groupby("episode_id").size().reindex(training["episode_id"], fill_value=0)
    actual = training.set_index("episode_id")["sessions_7d"].fillna(0)
    assert (actual.to_numpy() == expected.to_numpy()).all()

    history = pd.read_parquet(
        project / "data" / "04_feature" / "credit_risk" / "borrower_repayment_history.parquet"
    )
    joined = training[["episode_id", "borrower_id", "started_at", "payments_count_90d"]].merge(
        history, on="borrower_id", suffixes=("", "_fv")
    )
    known = joined[joined["event_timestamp"] <= joined["started_at"]]
    window = known[known["event_timestamp"] >= known["started_at"] - pd.Timedelta(days=90)]
    latest = (
        window.sort_values("event_timestamp")
        .groupby("episode_id")["payments_count_90d_fv"]
        .last()
        .reindex(training["episode_id"])
    )
    pd.testing.assert_series_equal(
        training.set_index("episode_id")["payments_count_90d"].astype("float64"),
        latest.astype("float64"),
        check_names=False,
    )


def _champion_pyfunc(project: Path) -> Any:
    """The champion as MLflow's own pyfunc loads it from the copy's registry."""
    uri = f"sqlite:///{project / 'mlruns' / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        return mlflow.pyfunc.load_model(f"models:/{MODEL}@champion")
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)


def test_the_champion_scores_its_own_stored_training_rows_as_they_are(project: Path) -> None:
    """MLflow's own pyfunc, nothing of ours in between, on the stored training set's rows with
    their stored dtypes: no cast needed."""
    pyfunc = _champion_pyfunc(project)
    stored = pd.read_parquet(project / "data" / "05_model_input" / MODEL / "training_set.parquet")
    schema = pyfunc.metadata.get_input_schema()
    answer = pyfunc.predict(stored[schema.input_names()].head(200))
    assert list(answer.columns) == list(OUTPUT_COLUMNS)
    assert np.isfinite(answer.to_numpy()).all()


def test_the_champion_answers_from_entity_keys_and_request_fields(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What an online caller sends: the borrower and the episode's own fields; the rest comes
    from the online store that both use cases' feature views were materialised into."""
    uri = f"sqlite:///{project / 'mlruns' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    pyfunc = _champion_pyfunc(project)
    scoring = pd.read_parquet(project / "data" / "01_raw" / MODEL / "scoring_episodes.parquet")
    request = scoring[["borrower_id", "days_past_due", "loan_amount", "outstanding_amount"]]
    answer = predict_served(pyfunc, request.head(20))
    assert list(answer.columns) == list(OUTPUT_COLUMNS)
    assert np.isfinite(answer.to_numpy()).all() and answer["uplift"].std() > 0
    np.testing.assert_allclose(
        answer["revenue_uplift"], answer["uplift"] * request["outstanding_amount"].head(20)
    )
    with pytest.raises(UnknownEntityError):
        predict_served(pyfunc, request.head(1).assign(borrower_id=-1))


def test_retrain_trains_and_gates_a_challenger_when_a_trigger_fires(project: Path) -> None:
    """`repayment_uplift_retrain` with an age limit of a quarter of an hour: the age trigger
    fires, so a challenger is trained and judged by the gate against the champion it would
    replace. Whether a challenger beats v1's Qini on a few hundred holdout rows is a coin toss,
    so the test decides it: with a margin no Qini difference reaches, the comparison is still
    measured and recorded, and the verdict is certain (rejected, v1 stays champion).
    (Last in this module: it adds a version to the registry.)"""
    client = _client(project)
    before = {str(v.version) for v in client.search_model_versions(f"name='{MODEL}'")}
    edit_params(project, MODEL, _retrain_now_against_an_unbeatable_margin)
    run_in(project, ["kedro", "run", "--pipelines", f"{MODEL}_retrain"])

    decision = _read(project, "08_reporting", "retrain_decision.json")
    assert decision["retrain"] is True
    fired = {t["trigger"] for t in decision["triggers"] if t["fired"]}
    assert "age" in fired
    after = {str(v.version) for v in client.search_model_versions(f"name='{MODEL}'")}
    (new,) = after - before
    registered = _read(project, "08_reporting", "registry_decision.json")
    assert registered["version"] == new
    assert registered["champion_before"] == "1"
    assert registered["action"] == "rejected" and registered["champion_after"] == "1"
    improvement = {c["check"]: c for c in registered["checks"]}["improvement_qini_coefficient"]
    assert improvement["value"] is not None  # judged against v1, not waved by
    assert improvement["passed"] is False
    assert improvement["threshold"] == f"> {UNBEATABLE_MIN_DELTA:g}"
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "1"
    assert client.get_model_version(MODEL, new).tags["promotion.decision"] == "rejected"

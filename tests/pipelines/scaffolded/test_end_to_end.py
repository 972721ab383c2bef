"""A multiclass use case made the way the README says: `modelworks new returns --task
multiclass_classification`, the example tables filled with generated orders, then `kedro run
--pipelines returns`, in a temporary copy of the project. The scaffold's YAML is not edited
beyond the sample size: no Python is written for the use case."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.project import copy_project, run_in

pytestmark = pytest.mark.e2e(seconds=150)

UC = "returns"
CLASSES = ["exchanged", "kept", "returned"]


def write_orders(root: Path, *, n_customers: int = 800, n_orders: int = 5000) -> None:
    """Orders whose outcome depends on the channel, the basket and the customer's segment."""
    rng = np.random.default_rng(7)
    customers = pd.DataFrame(
        {
            "customer_id": np.arange(n_customers),
            "segment": rng.choice(["new", "regular", "vip"], size=n_customers, p=[0.5, 0.4, 0.1]),
            "age": rng.integers(18, 80, size=n_customers),
        }
    )
    customer = rng.integers(0, n_customers, size=n_orders)
    start = pd.Timestamp("2025-01-01", tz="UTC")
    orders = pd.DataFrame(
        {
            "order_id": np.arange(n_orders),
            "customer_id": customer,
            "ordered_at": start + pd.to_timedelta(np.sort(rng.uniform(0, 180, n_orders)), "D"),
            "channel": rng.choice(["web", "app", "store"], size=n_orders),
            "items": rng.integers(1, 8, size=n_orders),
            "amount": rng.gamma(2.0, 40.0, size=n_orders).round(2),
        }
    )
    segment = customers["segment"].to_numpy()[customer]
    returned = (
        0.5 * (orders["channel"] == "web")
        + 0.35 * orders["items"]
        - 1.2 * (segment == "vip")
        - 1.5 * (orders["channel"] == "store")
    )
    exchanged = 0.01 * orders["amount"] - 0.8 + 0.6 * (segment == "regular")
    logits = np.column_stack([exchanged, np.zeros(n_orders), returned - 1.0])
    logits += rng.gumbel(size=logits.shape)
    orders["outcome"] = np.array(CLASSES)[logits.argmax(axis=1)]
    folder = root / "data" / "00_source" / UC
    folder.mkdir(parents=True)
    customers.to_csv(folder / "customers.csv", index=False)
    orders.assign(ordered_at=orders["ordered_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(
        folder / "orders.csv", index=False
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(tmp_path_factory.mktemp(UC) / "project")
    run_in(root, ["modelworks", "new", UC, "--task", "multiclass_classification"])
    params = root / "conf" / "base" / "parameters" / f"{UC}.yml"
    params.write_text(params.read_text().replace("max_rounds: 500", "max_rounds: 120"))
    write_orders(root)
    run_in(root, ["kedro", "run", "--pipelines", UC])
    return root


def _client(root: Path) -> MlflowClient:
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_the_scaffolded_use_case_has_no_python(project: Path) -> None:
    assert not (project / "pipelines" / UC).exists()


def test_a_multiclass_champion_beats_the_class_shares(project: Path) -> None:
    champion = _client(project).get_model_version_by_alias(UC, "champion")
    assert champion.tags["use_case"] == UC
    assert champion.tags["task"] == "multiclass_classification"
    metrics = json.loads(
        (project / "data" / "08_reporting" / UC / "holdout_metrics.json").read_text()
    )
    training = pd.read_parquet(project / "data" / "05_model_input" / UC / "training_set.parquet")
    shares = training["outcome"].value_counts(normalize=True)
    # Predicting the class shares for every order: the log loss a model without features gets.
    prior_log_loss = float(-(shares * np.log(shares)).sum())
    assert metrics["holdout_log_loss"] < prior_log_loss - 0.05
    assert metrics["holdout_accuracy"] > shares.max()
    assert {"holdout_macro_f1", "holdout_brier", "cv_log_loss_std"} <= set(metrics)


def test_the_batch_gets_a_class_and_a_probability_per_class(project: Path) -> None:
    predictions = pd.read_parquet(project / "data" / "07_model_output" / UC / "predictions.parquet")
    assert len(predictions) > 0
    assert set(predictions["predicted_class"]) <= set(CLASSES)
    proba = predictions[[f"proba_{c}" for c in CLASSES]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(predictions["score"], proba.max(axis=1))


def test_monitoring_watches_the_predicted_class_shares(project: Path) -> None:
    run_in(project, ["kedro", "run", "--pipelines", f"{UC}_monitor"])
    summary = json.loads(
        (project / "data" / "08_reporting" / UC / "monitoring_summary.json").read_text()
    )
    assert summary["task"] == "multiclass_classification"
    assert "predicted_class" in {feature["feature"] for feature in summary["features"]}
    assert summary["performance_note"]

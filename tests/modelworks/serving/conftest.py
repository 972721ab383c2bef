"""A registered model that reads its features from a real Feast online store (SQLite)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import uvicorn
from mlflow import MlflowClient

from modelworks.features import FeatureStoreDataset, FeatureTableDataset
from modelworks.registry.promotion import CHAMPION, register_version
from modelworks.registry.tracking import log_probability_model
from modelworks.serving.datasets import RegisteredModelDataset, ServedModel
from modelworks.training import CandidateParams, FeatureSpec, get_adapter

MODEL = "served"
FEATURES = FeatureSpec(numeric=["amount", "x"], categorical=["c"])
T0 = pd.Timestamp("2024-06-01", tz="UTC")


@dataclass(frozen=True)
class Served:
    """The champion, loaded, and the latest feature values the online store holds."""

    model: ServedModel
    latest: pd.DataFrame


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("served")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        latest = register_served_model(root, MODEL)
        yield Served(model=RegisteredModelDataset(MODEL).load(), latest=latest)
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)


def register_served_model(root: Path, name: str) -> pd.DataFrame:
    """Fill a Feast online store under ``root``, train a small model reading it and register
    it as ``name``@champion in the current MLflow registry; the store's latest values."""
    repo = _feature_repo(root)
    rng = np.random.default_rng(0)
    history = pd.DataFrame(
        {
            "customer_id": np.repeat(np.arange(1, 201), 2),
            "event_timestamp": np.tile([T0 - timedelta(days=9), T0 - timedelta(days=2)], 200),
            "x": rng.normal(size=400),
            "c": rng.choice(["a", "b", "c"], size=400),
        }
    )
    FeatureTableDataset(filepath=str(repo / "data" / "customer.parquet")).save(history)
    store = FeatureStoreDataset(repo_path=str(repo)).load()
    store.apply(_definitions())
    store.materialize(
        ["customer_fv"], start=(T0 - timedelta(days=30)).to_pydatetime(), end=T0.to_pydatetime()
    )
    latest = history.sort_values("event_timestamp").groupby("customer_id").last().reset_index()
    train = latest.assign(amount=rng.uniform(10, 100, size=len(latest)))
    logit = 1.5 * train["x"] + (train["c"] == "a") + 0.02 * (train["amount"] - 50)
    y = (rng.uniform(size=len(train)) < 1 / (1 + np.exp(-logit))).astype(int)
    fitted = get_adapter("lightgbm").fit(
        train,
        y,
        features=FEATURES,
        candidate=CandidateParams(adapter="lightgbm", params={"min_child_samples": 5}),
        seed=0,
        n_rounds=20,
    )
    serving = {
        "feature_service": "customer_service",
        "join_keys": ["customer_id"],
        "online_features": ["x", "c"],
        "feature_repo": str(repo),
    }
    with mlflow.start_run(experiment_id=_experiment(root)) as run:
        model_uri = log_probability_model(fitted, train, serving=serving)
    version = register_version(
        model_name=name, model_uri=model_uri, run_id=run.info.run_id, tags={}
    )
    MlflowClient().set_registered_model_alias(name, CHAMPION, version)
    return latest


def _experiment(root: Path) -> str:
    return mlflow.create_experiment("served", artifact_location=(root / "artifacts").as_uri())


def _feature_repo(root: Path) -> Path:
    repo = root / "feature_repo"
    (repo / "data").mkdir(parents=True)
    (repo / "feature_store.yaml").write_text(
        "project: served\nprovider: local\nregistry: data/registry.db\n"
        "offline_store:\n  type: duckdb\n"
        "online_store:\n  type: sqlite\n  path: data/online.db\n"
        "entity_key_serialization_version: 3\n"
    )
    return repo


def _definitions() -> list[object]:
    from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64, String

    customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.INT64)
    source = FileSource(
        name="customer_source", path="data/customer.parquet", timestamp_field="event_timestamp"
    )
    view = FeatureView(
        name="customer_fv",
        entities=[customer],
        ttl=timedelta(days=30),
        schema=[Field(name="x", dtype=Float64), Field(name="c", dtype=String)],
        source=source,
    )
    return [customer, source, view, FeatureService(name="customer_service", features=[view])]


@contextmanager
def running(app: object) -> Iterator[str]:
    """``app`` under uvicorn on a free loopback port, in a thread; its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start within 30 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)

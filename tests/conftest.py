"""Fixtures shared across the suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

# Progress bars of artifact downloads would fill the output of every failing test.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@pytest.fixture()
def tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MlflowClient]:
    """A fresh MLflow SQLite tracking store and registry in a temporary folder (also the cwd,
    so artifacts land in its mlruns/); the process-wide URIs are restored afterwards.

    ``mlflow.set_*_uri`` also export MLFLOW_TRACKING_URI / MLFLOW_REGISTRY_URI for child
    processes, and setting None does not take the registry one back: monkeypatch does.
    """
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # A Kedro session run earlier in this process (kedro-mlflow) leaves its experiment active,
    # by id, in MLflow's module state and the environment; that id means nothing here.
    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield MlflowClient(uri, uri)
    finally:
        while mlflow.active_run():
            mlflow.end_run()
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)

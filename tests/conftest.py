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

_SHARED_SCOPES = frozenset({"class", "module", "package"})


def worker_cores(cores: list[int], worker: int, workers: int) -> list[int]:
    """The cores of xdist worker ``worker`` of ``workers``: a share of its own, so that fits in
    one worker (threads sized by the cores a process may use) never spin on another's cores."""
    if workers <= 1 or len(cores) < workers:
        return cores
    return cores[worker::workers]


def pytest_configure() -> None:
    """An xdist worker, and every process it starts, runs on the worker's share of cores."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if worker.startswith("gw") and hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, worker_cores(cores, int(worker[2:]), workers))


def estimated_seconds(item: pytest.Item) -> float:
    """How long the test's module takes, as its ``e2e(seconds=...)`` mark says (else 0)."""
    mark = item.get_closest_marker("e2e")
    return float(mark.kwargs.get("seconds", 0)) if mark is not None else 0.0


def shares_fixtures(item: pytest.Item) -> bool:
    """Whether the test uses a fixture built once per module or class: its module's tests then
    run on one worker (``--dist loadgroup``), which builds that fixture once."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs[-1].scope in _SHARED_SCOPES for defs in info.name2fixturedefs.values() if defs)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules whose tests share fixtures form one xdist group each (unless a test names its
    group); the rest are spread test by test. The longest modules come first, so each worker
    starts one and neither is left alone with a long one at the end (the order is the same on
    every worker)."""
    modules = {item: getattr(getattr(item, "module", None), "__name__", None) for item in items}
    grouped = {modules[item] for item in items if modules[item] and shares_fixtures(item)}
    for item in items:
        if modules[item] in grouped and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(modules[item]))
    items.sort(key=estimated_seconds, reverse=True)


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


@pytest.fixture(scope="session")
def credit_risk_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project copy after one ``kedro run --pipelines credit_risk`` (sequential runner) on the
    small data of the end-to-end tests: read, never changed, by every test that inspects such
    a run. Its tests share the xdist group ``credit_risk_run``, so one worker makes it."""
    from tests.pipelines.credit_risk.test_end_to_end import MODEL, _small
    from tests.project import copy_project, edit_params, run_in

    root = copy_project(tmp_path_factory.mktemp("credit_risk_run") / "project")
    edit_params(root, MODEL, _small)
    run_in(root, ["kedro", "run", "--pipelines", MODEL])
    return root

"""The Dask runner: the sequential run's results, its errors, and MLflow runs nested where a
sequential run nests them, on a LocalCluster of two worker processes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from distributed import LocalCluster
from kedro.framework.hooks import hook_impl
from kedro.framework.hooks.manager import _create_hook_manager
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline, node
from kedro.runner import SequentialRunner
from kedro_datasets.pandas import ParquetDataset
from kedro_datasets.pickle import PickleDataset
from mlflow import MlflowClient

from modelworks import dask_runner
from modelworks.dask_runner import TAG_DASHBOARD, TAG_SCHEDULER, DaskRunner
from modelworks.registry import tracking as runs


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """One cluster for the tests that join a running scheduler (``address``), as on a real
    cluster; starting worker processes costs seconds."""
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as running:
        yield running


def _joined(cluster: LocalCluster) -> DaskRunner:
    return DaskRunner(client_args={"address": cluster.scheduler_address})


def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"x": range(n), "y": [v * 0.5 for v in range(n)]})


def doubled(data: pd.DataFrame) -> pd.DataFrame:
    return data.assign(x=data["x"] * 2)


def summed(data: pd.DataFrame) -> float:
    return float(data["y"].sum())


def joined(left: pd.DataFrame, right: float, n: int) -> dict[str, Any]:
    return {"rows": len(left), "total": right + float(left["x"].sum()), "n": n}


def _pipeline() -> Pipeline:
    return Pipeline(
        [
            node(frame, "params:n", "raw", name="make"),
            node(doubled, "raw", "doubled", name="double"),  # two independent branches
            node(summed, "raw", "total", name="sum"),
            node(joined, ["doubled", "total", "params:n"], "report", name="join"),
        ]
    )


def _catalog(folder: Path) -> DataCatalog:
    return DataCatalog(
        {
            "params:n": MemoryDataset(7),
            "raw": ParquetDataset(filepath=str(folder / "raw.parquet")),
            "report": PickleDataset(filepath=str(folder / "report.pkl")),
        }
    )


def test_results_equal_the_sequential_run(tmp_path: Path, cluster: LocalCluster) -> None:
    sequential, distributed = tmp_path / "sequential", tmp_path / "dask"
    seq_catalog, dask_catalog = _catalog(sequential), _catalog(distributed)

    seq_out = SequentialRunner().run(_pipeline(), seq_catalog, _create_hook_manager())
    dask_out = _joined(cluster).run(_pipeline(), dask_catalog, _create_hook_manager())

    assert dask_out.keys() == seq_out.keys() == {"report"}
    assert (
        dask_catalog.load("report")
        == seq_catalog.load("report")
        == {
            "rows": 7,
            "total": 10.5 + 42.0,
            "n": 7,
        }
    )
    pd.testing.assert_frame_equal(dask_catalog.load("raw"), seq_catalog.load("raw"))


def test_memory_outputs_reach_the_caller(cluster: LocalCluster) -> None:
    catalog = DataCatalog({"params:n": MemoryDataset(3)})
    _joined(cluster).run(_pipeline(), catalog, _create_hook_manager())
    assert catalog.load("report") == {
        "rows": 3,
        "total": 1.5 + 6.0,
        "n": 3,
    }


def broken(data: pd.DataFrame) -> pd.DataFrame:
    raise ValueError(f"no good: {len(data)} rows")


class _Errors:
    def __init__(self) -> None:
        self.failed: list[tuple[str, str]] = []

    @hook_impl
    def on_node_error(self, error: Exception, node: Any) -> None:
        self.failed.append((node.name, str(error)))


def test_a_failing_node_fails_the_run_and_closes_the_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[LocalCluster] = []

    class Recorded(LocalCluster):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            started.append(self)

    monkeypatch.setattr(dask_runner, "LocalCluster", Recorded)
    monkeypatch.setenv(dask_runner.WORKERS_ENV, "2")
    monkeypatch.delenv(dask_runner.SCHEDULER_ENV, raising=False)
    hooks, errors = _create_hook_manager(), _Errors()
    hooks.register(errors)
    pipeline = Pipeline(
        [node(frame, "params:n", "raw", name="make"), node(broken, "raw", "out", name="broken")]
    )

    with pytest.raises(ValueError, match="no good: 4 rows"):
        DaskRunner(cluster_args={"dashboard_address": ":0"}).run(
            pipeline, DataCatalog({"params:n": MemoryDataset(4)}), hooks
        )

    assert errors.failed == [("broken", "no good: 4 rows")]
    assert len(started) == 1
    assert started[0].status.name == "closed"


def logs_to_mlflow(rows: pd.DataFrame) -> dict[str, str | None]:
    """A node as the training pipeline writes one: a fluent metric on the use case's run, and
    a candidate run nested under it."""
    mlflow.log_metric("outer_rows", len(rows))
    with runs.candidate_run("tiny") as candidate:
        runs.log_metrics({"auc": 0.75})
    return {"candidate": candidate, "parent": runs.active_run_id()}


def test_nested_runs_on_a_worker_nest_under_the_drivers_run(
    tracking: MlflowClient, tmp_path: Path, cluster: LocalCluster
) -> None:
    experiment = tracking.create_experiment("dask", artifact_location=str(tmp_path / "art"))
    pipeline = Pipeline(
        [
            node(frame, "params:n", "raw", name="make"),
            node(logs_to_mlflow, "raw", "ids", name="log"),
        ]
    )
    catalog = DataCatalog({"params:n": MemoryDataset(5)})

    with mlflow.start_run(experiment_id=experiment, tags={"use_case": "demo"}) as run:
        _joined(cluster).run(pipeline, catalog, _create_hook_manager())
        assert mlflow.active_run().info.run_id == run.info.run_id  # type: ignore[union-attr]
        # the worker set it aside without ending it
        assert tracking.get_run(run.info.run_id).info.status == "RUNNING"

    ids = catalog.load("ids")
    assert ids["parent"] == run.info.run_id
    candidate = tracking.get_run(ids["candidate"])
    assert candidate.data.tags["mlflow.parentRunId"] == run.info.run_id
    assert candidate.data.tags["use_case"] == "demo"
    assert candidate.info.experiment_id == experiment
    assert candidate.data.metrics == {"auc": 0.75}
    parent = tracking.get_run(run.info.run_id)
    assert parent.data.metrics["outer_rows"] == 5
    assert parent.data.tags[TAG_SCHEDULER] == cluster.scheduler_address
    assert TAG_DASHBOARD in parent.data.tags
    assert parent.info.status == "FINISHED"


def test_nested_run_without_an_active_run_nests_under_the_named_parent(
    tracking: MlflowClient,
) -> None:
    with mlflow.start_run(tags={"use_case": "demo"}) as run:
        pass
    with runs.nesting_under(run.info.run_id), runs.fold_run("tiny", 0) as fold:
        assert mlflow.active_run().info.run_id == fold  # type: ignore[union-attr]
    tags = tracking.get_run(fold).data.tags
    assert tags["mlflow.parentRunId"] == run.info.run_id
    assert tags["use_case"] == "demo"


MODEL = "credit_risk"


def _client(root: Path) -> MlflowClient:
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _scores(run: Any) -> dict[str, float]:
    return {
        key: value
        for key, value in run.data.metrics.items()
        if key.startswith(("holdout_", "cv_")) and "seconds" not in key
    }


@pytest.mark.e2e(seconds=500)  # with the review in the UI, which shares its sequential run
@pytest.mark.xdist_group("credit_risk_run")
def test_credit_risk_on_dask_registers_the_sequential_runs_champion(
    tmp_path: Path, credit_risk_run: Path
) -> None:
    from tests.pipelines.credit_risk.test_end_to_end import _small
    from tests.project import copy_project, edit_params, run_in

    dask = copy_project(tmp_path / "dask" / "project")
    edit_params(dask, MODEL, _small)
    env = {dask_runner.WORKERS_ENV: "2", dask_runner.SCHEDULER_ENV: ""}
    runner = f"{DaskRunner.__module__}.DaskRunner"
    run_in(dask, ["kedro", "run", "--pipelines", MODEL, "--runner", runner], env=env)
    roots = {"sequential": credit_risk_run, "dask": dask}

    champions = {}
    for name, root in roots.items():
        client = _client(root)
        champion = client.get_model_version_by_alias(MODEL, "champion")
        assert str(champion.version) == "1"
        champions[name] = client.get_run(str(champion.run_id))
    assert _scores(champions["dask"]) == _scores(champions["sequential"])
    assert _scores(champions["dask"])  # holdout and cv metrics were logged at all
    holdout = {
        name: json.loads(
            (root / "data" / "08_reporting" / MODEL / "holdout_metrics.json").read_text()
        )
        for name, root in roots.items()
    }
    assert holdout["dask"] == holdout["sequential"]
    assert holdout["dask"]["cv_roc_auc_mean"] > 0.6

    client = _client(roots["dask"])
    use_case_run = client.get_run(champions["dask"].data.tags["mlflow.parentRunId"])
    assert use_case_run.data.tags["use_case"] == MODEL
    assert use_case_run.data.tags["kind"] == "pipeline"
    assert use_case_run.data.tags[TAG_DASHBOARD]
    assert use_case_run.data.tags[TAG_SCHEDULER].startswith("tcp://")
    assert use_case_run.info.status == "FINISHED"
    candidates = client.search_runs(
        [use_case_run.info.experiment_id], "tags.`modelworks.role` = 'candidate'"
    )
    assert candidates
    assert {run.data.tags["mlflow.parentRunId"] for run in candidates} == {use_case_run.info.run_id}

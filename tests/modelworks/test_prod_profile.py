"""The production profile (``conf/prod``) end to end, against real servers on loopback.

In a temporary copy of the project, with databases and a Redis database index of the test's
own: ``modelworks servers up`` creates the databases and starts an MLflow tracking server on
PostgreSQL; ``kedro run --env prod`` trains credit_risk and registers its champion there, with
Feast's registry in PostgreSQL and its online store on Redis; the exported Airflow DAG runs
the scoring pipeline (`airflow dags test`); `modelworks serve` answers from Redis; `servers
down` stops exactly what `up` started. A missing variable or a server that does not answer
stops a run before it starts, named.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
import redis
import requests
import yaml
from mlflow import MlflowClient

from tests.pipelines.credit_risk.test_end_to_end import _small
from tests.project import VENV_BIN, copy_project, edit_params, project_env, run_in
from tests.servers import (
    POSTGRES_URL,
    REDIS_HOST,
    REDIS_PORT,
    existing_databases,
    free_port,
    temporary_databases,
    temporary_redis_db,
)

pytestmark = pytest.mark.e2e(seconds=500)

MODEL = "credit_risk"
AIRFLOW = Path(__file__).resolve().parents[2] / ".venv-airflow" / "bin" / "airflow"


@dataclass
class Prod:
    root: Path
    env: dict[str, str]
    databases: dict[str, str]  # purpose -> database name
    redis_db: int
    up: subprocess.CompletedProcess[str]

    @property
    def tracking_uri(self) -> str:
        return self.env["MLFLOW_TRACKING_URI"]

    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)


def _point_at(root: Path, databases: dict[str, str]) -> None:
    """The copy's conf/prod names the test's own databases instead of modelworks_*."""
    servers = root / "conf" / "prod" / "servers.yml"
    config = yaml.safe_load(servers.read_text())
    config["postgres"]["databases"] = databases
    servers.write_text(yaml.safe_dump(config, sort_keys=False))
    feast = root / "conf" / "prod" / "feature_store.yaml"
    feast.write_text(feast.read_text().replace("/modelworks_feast", f"/{databases['feast']}"))


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prod]:
    root = copy_project(tmp_path_factory.mktemp("prod") / "project")
    edit_params(root, MODEL, _small)
    purposes = ("mlflow", "feast", "optuna")
    with (
        temporary_databases(*purposes, create=False) as urls,
        temporary_redis_db() as redis_db,
    ):
        databases = {purpose: url.rsplit("/", 1)[1] for purpose, url in urls.items()}
        _point_at(root, databases)
        env = {
            "MODELWORKS_POSTGRES_URL": POSTGRES_URL,
            "MODELWORKS_REDIS": f"{REDIS_HOST}:{REDIS_PORT},db={redis_db}",
            "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",
        }
        up = run_in(root, ["modelworks", "servers", "up"], env=env)
        try:
            run_in(root, ["kedro", "run", "--env", "prod", "--pipelines", MODEL], env=env)
            yield Prod(root, env, databases, redis_db, up)
        finally:
            run_in(root, ["modelworks", "servers", "down"], check=False)


def test_servers_up_creates_the_databases_and_starts_the_tracking_server(prod: Prod) -> None:
    assert set(prod.databases.values()) <= existing_databases()
    for name in prod.databases.values():
        assert f"created database {name}" in prod.up.stdout
    assert requests.get(f"{prod.tracking_uri}/health", timeout=5).text == "OK"
    pid = int((prod.root / ".servers" / "mlflow.pid").read_text())
    os.killpg(pid, 0)  # the process group it started is alive


def test_the_champion_is_registered_on_the_tracking_server(prod: Prod) -> None:
    client = prod.client()
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert str(champion.version) == "1"
    assert champion.tags["promotion.decision"] == "promoted"
    experiment = client.get_experiment_by_name(MODEL)
    assert experiment is not None
    assert experiment.artifact_location.startswith("mlflow-artifacts:/")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    assert runs and {run.info.status for run in runs} == {"FINISHED"}
    # artifacts went through the server into its destination, and nothing embedded was made
    model_files = list((prod.root / "mlartifacts").rglob("MLmodel"))
    assert model_files
    assert not (prod.root / "mlruns" / "mlflow.db").exists()
    with psycopg.connect(f"{POSTGRES_URL}/{prod.databases['mlflow']}") as db:
        (versions,) = db.execute(
            "SELECT count(*) FROM model_versions WHERE name = %s", (MODEL,)
        ).fetchone()
    assert versions == 1


def test_features_are_registered_in_postgres_and_served_from_redis(prod: Prod) -> None:
    with psycopg.connect(f"{POSTGRES_URL}/{prod.databases['feast']}") as db:
        views = {row[0] for row in db.execute("SELECT feature_view_name FROM feature_views")}
    assert {"borrower_profile_fv", "borrower_repayment_history_fv"} <= views
    assert redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=prod.redis_db).dbsize() > 1000
    assert not (prod.root / "data" / "04_feature" / "feast" / "online_store.db").exists()


def test_the_exported_airflow_dag_runs_scoring_against_the_servers(
    prod: Prod, tmp_path: Path
) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    run_in(
        prod.root,
        ["modelworks", "--env", "prod", "schedule", "export", "--to", "airflow", "--output",
         str(dags / "modelworks_dags.py")],
        env=prod.env,
    )  # fmt: skip
    airflow_env = {
        **prod.env,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    run_in(prod.root, [str(AIRFLOW), "db", "migrate"], env=airflow_env)
    done = run_in(
        prod.root,
        [str(AIRFLOW), "dags", "test", f"modelworks__{MODEL}__daily_scoring"],
        env=airflow_env,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    predictions = pd.read_parquet(
        prod.root / "data" / "07_model_output" / MODEL / "predictions.parquet"
    )
    assert len(predictions) > 0 and set(predictions["model_version"].astype(str)) == {"1"}
    client = prod.client()
    experiment = client.get_experiment_by_name(MODEL)
    assert experiment is not None
    scoring = client.search_runs(
        [experiment.experiment_id], filter_string="attributes.run_name = 'credit_risk_score'"
    )
    assert [run.info.status for run in scoring] == ["FINISHED"]


def test_serve_answers_with_features_from_redis(prod: Prod, tmp_path: Path) -> None:
    loans = pd.read_parquet(prod.root / "data" / "01_raw" / MODEL / "scoring_loans.parquet")
    sent, expected = _in_process_scores(prod, loans.head(20))
    port = free_port()
    server = subprocess.Popen(
        [str(VENV_BIN / "modelworks"), "--env", "prod", "serve", MODEL, "--port", str(port)],
        cwd=prod.root,
        env={**project_env(prod.root), **prod.env},
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "serve.log").open("w"),
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base, server, tmp_path / "serve.log")
        body = json.loads(sent.to_json(orient="records", date_format="iso"))
        answer = requests.post(f"{base}/predict", json=body, timeout=60)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["version"] == "1"
    assert answer.json()["scores"] == pytest.approx(list(expected), abs=1e-9)
    assert len(set(answer.json()["scores"])) > 1


def test_servers_down_stops_what_up_started_and_nothing_else(prod: Prod) -> None:
    pid = int((prod.root / ".servers" / "mlflow.pid").read_text())
    done = run_in(prod.root, ["modelworks", "servers", "down"])
    assert f"stopped MLflow tracking server (pid {pid})" in done.stdout
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{prod.tracking_uri}/health", timeout=5)
    assert not (prod.root / ".servers" / "mlflow.pid").exists()
    # PostgreSQL and Redis are the machine's: still answering
    assert redis.Redis(host=REDIS_HOST, port=REDIS_PORT).ping()
    with psycopg.connect(f"{POSTGRES_URL}/postgres") as db:
        assert db.execute("SELECT 1").fetchone() == (1,)


@pytest.fixture(scope="module")
def bare_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("prod_bare") / "project")


def test_a_missing_variable_stops_the_run_naming_it(bare_copy: Path) -> None:
    env = {"MODELWORKS_POSTGRES_URL": POSTGRES_URL, "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}
    done = run_in(bare_copy, ["kedro", "run", "--env", "prod"], env=env, check=False)
    assert done.returncode != 0
    output = " ".join((done.stdout + done.stderr).split())
    assert "MODELWORKS_REDIS is not set: export it in the environment or add" in output
    assert not any((bare_copy / "data" / "01_raw").rglob("*.parquet"))


def test_a_server_that_does_not_answer_stops_the_run_naming_it(tmp_path: Path) -> None:
    """PostgreSQL (its databases made) and Redis answer; only the tracking server does not."""
    root = copy_project(tmp_path / "project")
    port = free_port()
    env = {
        "MODELWORKS_POSTGRES_URL": POSTGRES_URL,
        "MODELWORKS_REDIS": f"{REDIS_HOST}:{REDIS_PORT}",
        "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}",
    }
    with temporary_databases("mlflow", "feast", "optuna") as urls:
        _point_at(root, {purpose: url.rsplit("/", 1)[1] for purpose, url in urls.items()})
        done = run_in(root, ["modelworks", "--env", "prod", "history", MODEL], env=env, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"Error: MLflow tracking server at http://127.0.0.1:{port} does not answer"
    )
    assert "PostgreSQL" not in done.stderr and "Redis" not in done.stderr


def _in_process_scores(prod: Prod, loans: pd.DataFrame) -> tuple[pd.DataFrame, Any]:
    """Entity keys and request fields only (the champion's required inputs, no features),
    and the champion's scores for them as `modelworks serve` loads it, features from Redis."""
    import mlflow

    from modelworks.serving.datasets import RegisteredModelDataset

    with pytest.MonkeyPatch.context() as patch:
        for name, value in prod.env.items():
            patch.setenv(name, value)
        patch.setenv("FEAST_FS_YAML_FILE_PATH", str(prod.root / "conf/prod/feature_store.yaml"))
        patch.setenv("MODELWORKS_FEATURE_REPO", str(prod.root / "feature_repo"))
        patch.chdir(prod.root)
        mlflow.set_tracking_uri(prod.tracking_uri)
        mlflow.set_registry_uri(prod.tracking_uri)
        try:
            served = RegisteredModelDataset(MODEL).load()
            schema = served.pyfunc.metadata.get_input_schema()
            sent = loans[[spec.name for spec in schema.inputs if spec.required]]
            return sent, served.predict(sent)
        finally:
            mlflow.set_tracking_uri(None)
            mlflow.set_registry_uri(None)


def _wait_for(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"modelworks serve exited: {log.read_text()[-3000:]}")
        try:
            requests.get(f"{base}/docs", timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.5)
    server.send_signal(signal.SIGTERM)
    raise AssertionError(f"modelworks serve did not answer: {log.read_text()[-3000:]}")

"""``modelworks serve`` as installed, in a temporary copy of the project: it serves a registered
champion with its use case's limits and rules, and refuses an unknown model or alias."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import mlflow
import pytest
import requests

from tests.modelworks.serving.conftest import register_served_model
from tests.project import VENV_BIN, copy_project, project_env, run_in

MODEL = "credit_risk"
"""The small served model, registered under a use case's name so that its rules apply."""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("serve") / "project")
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        register_served_model(tmp_path_factory.mktemp("store"), MODEL)
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
    return root


@contextmanager
def served(project: Path, *options: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``modelworks serve MODEL *options`` on a free port, in a session of its own: stopping it
    stops every process it started, and its output goes to a file, so nothing waits on a pipe
    a worker process still holds."""
    port = _free_port()
    log = project / f"serve-{port}.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(VENV_BIN / "modelworks"), "serve", MODEL, "--port", str(port), *options],
            cwd=project,
            env=project_env(project),
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(base, server, log)
        yield base, server
    finally:
        _stop(server)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(server: subprocess.Popen[Any]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def url(project: Path) -> Iterator[str]:
    with served(project) as (base, _):
        yield base


def _wait_for(base: str, server: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + 180
    while True:
        try:
            requests.get(f"{base}/health", timeout=1)
            return
        except requests.ConnectionError:
            if server.poll() is not None or time.monotonic() > deadline:
                _stop(server)
                raise RuntimeError(
                    f"modelworks serve did not start: {log.read_text()[-3000:]}"
                ) from None
            time.sleep(0.3)


def test_the_installed_cli_serves_the_champion(url: str) -> None:
    response = requests.post(f"{url}/predict", json={"customer_id": 3, "amount": 20}, timeout=30)
    assert response.status_code == 200
    assert response.json()["version"] == "1"


def test_it_serves_from_two_worker_processes(project: Path) -> None:
    """Each worker loads the model and the use case's limits and rules from the settings the
    command hands it."""
    import psutil

    with served(project, "--workers", "2") as (base, process):
        workers = psutil.Process(process.pid).children(recursive=True)
        serving = [w for w in workers if "spawn_main" in " ".join(w.cmdline())]  # not the tracker
        assert len(serving) == 2
        for _ in range(6):  # whichever worker takes the connection
            scored = requests.post(
                f"{base}/predict", json={"customer_id": 3, "amount": 20}, timeout=30
            )
            refused = requests.post(
                f"{base}/predict", json={"customer_id": 3, "amount": 0.5}, timeout=30
            )
            assert (scored.status_code, scored.json()["version"]) == (200, "1")
            assert (refused.status_code, refused.json()["detail"][0]["rule"]) == (422, "min")


def test_a_worker_that_cannot_start_stops_the_server(project: Path) -> None:
    """A worker process that cannot load its model ends the server with exit status 1 and
    the worker's error, rather than leave a server that never answers."""
    port = _free_port()
    code = (
        "from modelworks.serving.launch import ServeSettings, run_server; "
        f"run_server(ServeSettings(model={MODEL!r}, alias='nope'), host='127.0.0.1', "
        f"port={port}, workers=2)"
    )
    log = project / f"failed-{port}.log"
    env = {
        **project_env(project),
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlruns' / 'mlflow.db'}",
    }
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(VENV_BIN / "python"), "-c", code],
            cwd=project,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        returncode = server.wait(timeout=180)
    finally:
        _stop(server)
    text = log.read_text()
    assert returncode == 1, text[-3000:]
    assert "could not build its app" in text
    assert "nope" in text
    assert "failed to start: its error is above" in text


def test_it_holds_requests_to_the_use_case_s_validation_rules(url: str) -> None:
    """credit_risk declares loans.amount with min 1 and max 1,000,000."""
    response = requests.post(f"{url}/predict", json={"customer_id": 3, "amount": 0.5}, timeout=30)
    assert (response.status_code, response.json()) == (
        422,
        {"detail": [{"field": "amount", "rule": "min", "problem": "must be >= 1", "input": "0.5"}]},
    )


def test_it_applies_the_default_limits(url: str) -> None:
    limits = requests.get(f"{url}/model", timeout=30).json()["limits"]
    assert limits == {
        "max_body_bytes": 1048576,
        "max_rows": 1000,
        "max_depth": 8,
        "on_rule_violation": "reject",
    }


def test_an_unknown_model_is_refused(project: Path) -> None:
    result = run_in(project, [str(VENV_BIN / "modelworks"), "serve", "nope"], check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: no use case registers a model named 'nope'; known: ")


def test_a_model_not_yet_registered_is_refused(project: Path) -> None:
    result = run_in(
        project, [str(VENV_BIN / "modelworks"), "serve", "hotel_recommendation"], check=False
    )
    assert (result.returncode, result.stderr) == (
        1,
        "Error: no registered model named 'hotel_recommendation'; registered models: credit_risk\n",
    )


def test_an_unknown_alias_is_refused(project: Path) -> None:
    args = [str(VENV_BIN / "modelworks"), "serve", MODEL, "--alias", "nope"]
    result = run_in(project, args, check=False)
    assert (result.returncode, result.stderr) == (
        1,
        "Error: credit_risk has no version with alias 'nope'\n",
    )

"""Runs left RUNNING by a killed process are marked KILLED by the next run.

A unit test builds the runs in a scratch tracking store; the end-to-end test kills
``kedro run --pipelines credit_risk`` with SIGKILL three times, in a scratch copy of the project,
and checks that the next run cleans up and leaves nothing torn.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mlflow import MlflowClient

from modelworks.run_recovery import (
    TAG_HOST,
    TAG_PID,
    TAG_PID_STARTED,
    TAG_RECOVERY,
    find_stale_runs,
    mark_killed,
    process_alive,
    process_tags,
)
from tests.project import copy_project, edit_params, few_trials, project_env, run_in

MODEL = "credit_risk"


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_process_tags_name_this_live_process() -> None:
    tags = process_tags()
    assert tags[TAG_HOST] == socket.gethostname() and tags[TAG_PID] == str(os.getpid())
    assert process_alive(os.getpid(), tags.get(TAG_PID_STARTED))
    assert not process_alive(_dead_pid())
    if TAG_PID_STARTED in tags:  # Linux: a reused pid is a different process
        assert not process_alive(os.getpid(), "1")


def test_stale_runs_and_their_children_are_marked_killed(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("modelworks")
    host = socket.gethostname()
    day_ago = int((time.time() - 25 * 3600) * 1000)

    def run(tags: dict[str, str], parent: str | None = None, start: int | None = None) -> str:
        if parent:
            tags = {**tags, "mlflow.parentRunId": parent}
        return client.create_run(experiment, start_time=start, tags=tags).info.run_id

    dead = run({TAG_HOST: host, TAG_PID: str(_dead_pid())})
    candidate = run({"modelworks.role": "candidate"}, dead)
    fold = run({"modelworks.role": "fold"}, candidate)
    alive = run(process_tags())
    alive_child = run({"modelworks.role": "candidate"}, alive)
    elsewhere = run({TAG_HOST: "another-host", TAG_PID: "1"}, start=day_ago)
    old_untagged = run({}, start=day_ago)
    young_untagged = run({})
    finished = run(process_tags())
    orphan = run({"modelworks.role": "fold"}, finished)
    client.set_terminated(finished)

    stale = find_stale_runs(client, max_untagged_age_hours=24, exclude=[young_untagged])
    assert set(stale) == {dead, candidate, fold, old_untagged, orphan}
    assert list(stale).index(fold) < list(stale).index(candidate) < list(stale).index(dead)
    assert "no longer runs" in stale[dead] and "is stale" in stale[fold]
    assert "no process tag" in stale[old_untagged] and "FINISHED" in stale[orphan]
    mark_killed(client, stale, by="the-next-run")

    status = {r: client.get_run(r).info.status for r in [dead, candidate, fold, old_untagged]}
    assert set(status.values()) == {"KILLED"}
    assert "found by run the-next-run" in client.get_run(fold).data.tags[TAG_RECOVERY]
    for untouched in (alive, alive_child, elsewhere, young_untagged):
        assert client.get_run(untouched).info.status == "RUNNING"
    assert find_stale_runs(client, exclude=[young_untagged]) == {}


# --- end to end: kill -9 three times, then a run that must clean up and succeed ---------------


def _small(params: dict[str, Any]) -> None:
    few_trials(params)
    params["generator"].update(n_loans=600, history_days=300)
    params["validation"]["tables"]["loans"]["min_rows"] = 100
    params["training"].update(n_splits=2, holdout_days=45)
    lightgbm = params["training"]["candidates"]["lightgbm"]
    params["training"]["candidates"] = {"lightgbm": {**lightgbm, "max_rounds": 30}}
    # a few hundred loans drift and score noisily: the gate must still crown a champion
    params["registry"]["gate"]["thresholds"] = {"roc_auc": {"min": 0.0}}
    params["registry"]["gate"]["max_drift"] = "critical"
    # The latency check is judged on an injected clock in tests/modelworks/registry; here, on
    # a machine busy with other tests, wall time would decide the promotion instead of the model.
    params["registry"]["gate"]["max_latency_ms"] = None


def _running(db: Path) -> dict[str, dict[str, str]]:
    """RUNNING runs in the copy's store, read-only (the run in progress owns the schema)."""
    if not db.is_file():
        return {}
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as connection:
            rows = connection.execute(
                "SELECT r.run_uuid, t.key, t.value FROM runs r LEFT JOIN tags t"
                " ON t.run_uuid = r.run_uuid WHERE r.status = 'RUNNING'"
            ).fetchall()
    except sqlite3.Error:
        return {}  # not created or migrated yet, or locked for a moment
    runs: dict[str, dict[str, str]] = {}
    for run_id, key, value in rows:
        runs.setdefault(run_id, {})
        if key is not None:
            runs[run_id][key] = value
    return runs


def _kill_when(root: Path, ready: Any, what: str) -> set[str]:
    """Start the pipeline, SIGKILL it once ``ready(running_runs)`` holds; the runs it left."""
    db = root / "mlruns" / "mlflow.db"
    command = ["kedro", "run", "--pipelines", MODEL]
    process = subprocess.Popen(
        command,
        cwd=root,
        env=project_env(root),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 150
    try:
        while True:
            runs = _running(db)
            if ready(runs, db):
                break
            assert process.poll() is None, f"the pipeline ended ({process.returncode}) {what}"
            assert time.monotonic() < deadline, f"timed out waiting {what}"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    return set(runs)


def _pipeline_run_started(runs: dict[str, dict[str, str]], db: Path) -> bool:
    return any(TAG_PID in tags for tags in runs.values())


def _candidate_running(runs: dict[str, dict[str, str]], db: Path) -> bool:
    return any(tags.get("modelworks.role") == "candidate" for tags in runs.values())


def _version_registered(runs: dict[str, dict[str, str]], db: Path) -> bool:
    """A model version exists while its pipeline still runs: the gate and the alias to come."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as connection:
            (count,) = connection.execute("SELECT COUNT(*) FROM model_versions").fetchone()
    except sqlite3.Error:
        return False
    return bool(runs) and count > 0


def _assert_nothing_torn(data: Path) -> int:
    checked = 0
    for path in sorted(data.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        if path.suffix == ".parquet":
            pd.read_parquet(path)
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".jsonl":
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                assert line.strip(), f"{path}:{number} is empty"
                json.loads(line)
        else:
            continue
        checked += 1
    return checked


@pytest.mark.e2e(seconds=300)
def test_a_run_after_three_kill_9s_cleans_up_and_succeeds(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "project")
    edit_params(root, MODEL, _small)

    killed_early = _kill_when(root, _pipeline_run_started, "for the pipeline's run")
    killed_training = _kill_when(root, _candidate_running, "for a candidate's run")
    killed_registering = _kill_when(root, _version_registered, "for a registered version")
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    half_made = {
        str(v.version)
        for v in MlflowClient(tracking_uri=uri, registry_uri=uri).search_model_versions(
            f"name='{MODEL}'"
        )
    }

    run_in(root, ["kedro", "run", "--pipelines", MODEL])

    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = {r.info.run_id: r for r in client.search_runs(experiments, max_results=1000)}
    assert [r for r in runs.values() if r.info.status == "RUNNING"] == []
    killed = killed_early | killed_training | killed_registering
    assert len(killed) >= 4  # three pipeline runs, a candidate (and any fold) of the second
    for run_id in killed:
        assert runs[run_id].info.status == "KILLED", runs[run_id].data.tags
        assert "marked KILLED" in runs[run_id].data.tags[TAG_RECOVERY]
    roles = {runs[run_id].data.tags.get("modelworks.role") for run_id in killed_training}
    assert "candidate" in roles

    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert champion.run_id is not None
    assert client.get_run(champion.run_id).info.status == "FINISHED"
    assert champion.run_id not in killed
    # the alias only ever sits on a complete version: gate evidence and decision written first
    assert champion.tags["promotion.decision"] == "promoted"
    assert half_made  # the third kill came after a version was registered
    for version in half_made:
        made = client.get_model_version(MODEL, version)
        assert made.aliases == [] or made.tags.get("promotion.decision") == "promoted"
    assert _assert_nothing_torn(root / "data") >= 10

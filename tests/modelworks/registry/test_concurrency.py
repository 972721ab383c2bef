"""Registrations, promotions and rollbacks of one model from several processes at once.

Each worker is a spawned process (its own MLflow client, SQLAlchemy engine and database
connections) against one registry, on each backend the project runs: a SQLite database in a
temporary folder (serialized by the file lock) and a temporary PostgreSQL database on the
machine's server (``tests.servers``; serialized by the advisory lock in that database). A
barrier releases the promotions together, so they all judge the challenger against the same
champion and then race for the lock: the audit trail must still read as one chain of moves.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow import MlflowClient

from modelworks.registry.gate import GatePolicy, Threshold
from modelworks.registry.locks import LOCK_URL_ENV, PostgresAdvisoryLock, registry_lock
from modelworks.registry.promotion import (
    CHAMPION,
    PREVIOUS_CHAMPION,
    TAG_REPLACED,
    history,
    promote,
    rollback,
)
from tests.modelworks.registry.versions import register_flipped
from tests.servers import free_port, temporary_databases

MODEL = "m"
POLICY = GatePolicy.model_validate(
    {
        "thresholds": {"roc_auc": {"min": 0.55}},
        "improvement": {"metric": "roc_auc", "paired_test": {"n_resamples": 100}},
    }
)
# Forced promotions are judged against a floor that only the version trained on clean labels
# clears: whichever of two worse versions wins the race, the other still fails the floor
# against it, so both are recorded as forced, never as promoted on merit.
FORCE_POLICY = POLICY.model_copy(update={"thresholds": {"roc_auc": Threshold(min=0.75)}})
TIMEOUT_S = 120


@pytest.fixture(params=["sqlite", "postgresql", "tracking_server"])
def registry(
    request: pytest.FixtureRequest, tracking: MlflowClient, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MlflowClient]:
    """The process's MLflow tracking store and registry, on the backend of the parameter: the
    SQLite one of ``tracking`` or a temporary PostgreSQL database (the temporary folder stays
    the working directory, so artifacts land in its mlruns/ either way).

    The store is touched once here: the database (SQLite's file, PostgreSQL's schema, which
    MLflow creates and migrates on first use) exists before the workers open it, so they never
    race to create it.
    """
    if request.param == "sqlite":
        tracking.search_experiments()
        yield tracking
        return
    if request.param == "tracking_server":
        yield from _through_a_tracking_server(tracking, monkeypatch)
        return
    with temporary_databases("registry") as urls:
        # psycopg 3 is the project's driver; SQLAlchemy's plain postgresql:// means psycopg2
        uri = urls["registry"].replace("postgresql://", "postgresql+psycopg://", 1)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        client = MlflowClient(uri, uri)
        client.search_experiments()
        # the moves queue on the advisory lock in this database, not on a file lock
        assert isinstance(registry_lock(uri, MODEL), PostgresAdvisoryLock)
        yield client


def _through_a_tracking_server(
    tracking: MlflowClient, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MlflowClient]:
    """The production profile's shape: every process talks to an MLflow tracking server over
    HTTP (its backend a temporary PostgreSQL database) and takes the champion lock in that
    database, named by ``MODELWORKS_REGISTRY_LOCK_URL`` as ``servers.yml`` has it set."""
    del tracking  # only for its working directory and restored URIs
    with temporary_databases("registry") as urls:
        port = free_port()
        command = [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", urls["registry"],
            "--serve-artifacts", "--artifacts-destination", str(Path.cwd() / "artifacts"),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
        ]  # fmt: skip
        server = subprocess.Popen(
            command,
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            uri = f"http://127.0.0.1:{port}"
            _wait_for_health(uri, server)
            monkeypatch.setenv(LOCK_URL_ENV, urls["registry"])
            monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
            monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
            mlflow.set_tracking_uri(uri)
            mlflow.set_registry_uri(uri)
            assert isinstance(registry_lock(uri, MODEL), PostgresAdvisoryLock)
            yield MlflowClient(uri, uri)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


def _wait_for_health(uri: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        assert server.poll() is None, "the MLflow tracking server exited at start-up"
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the MLflow tracking server at {uri} did not answer")


def _register(flip: float) -> str:
    return register_flipped(MODEL, flip, rows=600, rounds=10)


def _worker(
    uri: str,
    workdir: str,
    flip: float | None,
    version: str | None,
    force_reason: str | None,
    barrier: Barrier,
    results: multiprocessing.Queue[Any],
) -> None:
    """Register a version (``flip``) or take ``version``, wait for the others, promote it."""
    try:
        os.chdir(workdir)
        os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        if flip is not None:
            version = _register(flip)
        assert version is not None
        barrier.wait(timeout=TIMEOUT_S)
        policy = POLICY if force_reason is None else FORCE_POLICY
        decision = promote(MODEL, version, policy, force_reason=force_reason)
        results.put((version, decision.action, decision.champion_before, None))
    except BaseException as exc:  # reported to the test, which fails on it
        barrier.abort()
        results.put((version, None, None, f"{type(exc).__name__}: {exc}"))


def _run_together(
    registry: MlflowClient, tmp_path: Path, jobs: list[dict[str, Any]]
) -> list[tuple[str, str, str | None]]:
    """Run one ``_worker`` per job in spawned processes; their (version, action, before)."""
    uri = mlflow.get_tracking_uri()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(jobs))
    results: multiprocessing.Queue[Any] = context.Queue()
    processes = [
        context.Process(
            target=_worker,
            args=(
                uri,
                str(tmp_path),
                job.get("flip"),
                job.get("version"),
                job.get("force_reason"),
                barrier,
                results,
            ),
        )
        for job in jobs
    ]
    for process in processes:
        process.start()
    outcomes = []
    try:
        for _ in jobs:
            outcomes.append(results.get(timeout=TIMEOUT_S))
    except queue.Empty:
        pass
    for process in processes:
        process.join(timeout=TIMEOUT_S)
        if process.is_alive():
            process.kill()
    errors = [error for *_, error in outcomes if error]
    assert not errors, errors
    assert len(outcomes) == len(jobs), outcomes
    return [(version, action, before) for version, action, before, _ in outcomes]


def _assert_chain(events: list[dict[str, Any]]) -> None:
    """Each event replaced the champion the event before it left."""
    before = None
    for event in events:
        assert event["champion_before"] == before, events
        before = event["champion_after"]


def _champion(client: MlflowClient) -> str:
    return str(client.get_model_version_by_alias(MODEL, CHAMPION).version)


def test_concurrent_registrations_and_promotions_chain_in_the_audit_trail(
    registry: MlflowClient, tmp_path: Path
) -> None:
    outcomes = _run_together(registry, tmp_path, [{"flip": flip} for flip in (0.3, 0.2, 0.1, 0.0)])

    versions = sorted(int(version) for version, _, _ in outcomes)
    assert versions == [1, 2, 3, 4]
    # search_model_versions leaves aliases out: read each version
    holders = [v for v in versions if CHAMPION in registry.get_model_version(MODEL, str(v)).aliases]
    assert len(holders) == 1
    events = history(MODEL)
    assert len(events) == 4
    assert sorted(e["version"] for e in events) == [str(v) for v in versions]
    _assert_chain(events)
    assert events[0]["action"] == "promoted"
    # only the first could find no champion; everyone else was judged against one
    assert [e["champion_before"] is None for e in events] == [True, False, False, False]
    assert _champion(registry) == events[-1]["champion_after"]
    for version, action, before in outcomes:
        (event,) = [e for e in events if e["version"] == version]
        assert (event["action"], event["champion_before"]) == (action, before)


def test_concurrent_forced_promotions_are_both_recorded_and_rollback_undoes_the_last(
    registry: MlflowClient, tmp_path: Path
) -> None:
    good, worse, worst = _register(0.0), _register(0.4), _register(0.45)
    assert promote(MODEL, good, POLICY).action == "promoted"

    outcomes = _run_together(
        registry,
        tmp_path,
        [{"version": v, "force_reason": f"incident: force v{v}"} for v in (worse, worst)],
    )

    assert [action for _, action, _ in outcomes] == ["forced", "forced"]
    events = history(MODEL)
    assert [e["version"] for e in events[:1]] == [good]
    assert sorted(e["version"] for e in events[1:]) == sorted([worse, worst])
    _assert_chain(events)
    # the loser of the race replaced the winner, not the champion both of them had read
    assert events[2]["champion_before"] == events[1]["version"]
    last = events[-1]["version"]
    assert _champion(registry) == last
    assert registry.get_model_version(MODEL, last).tags[TAG_REPLACED] == events[1]["version"]
    assert (
        str(registry.get_model_version_by_alias(MODEL, PREVIOUS_CHAMPION).version)
        == (events[1]["version"])
    )

    back = rollback(MODEL, reason="the last forced one misbehaves")
    assert (back.champion_before, back.champion_after) == (last, events[1]["version"])
    assert _champion(registry) == events[1]["version"]
    assert str(registry.get_model_version_by_alias(MODEL, PREVIOUS_CHAMPION).version) == good
    _assert_chain(history(MODEL))


def test_a_writer_blocked_past_sqlites_default_timeout_waits_instead_of_failing(
    tracking: MlflowClient, tmp_path: Path
) -> None:
    """MLflow runs ``PRAGMA busy_timeout = 20000`` in every SQLite store session (see
    ``modelworks.registry.locks``): a registry write waits out another writer holding the
    database for longer than sqlite3's 5 s default instead of failing "database is locked"."""
    tracking.create_registered_model(MODEL)
    holder = sqlite3.connect(tmp_path / "mlflow.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, as another process's transaction
    release = threading.Timer(5.5, holder.execute, ["COMMIT"])
    release.start()
    try:
        start = time.monotonic()
        tracking.set_registered_model_tag(MODEL, "k", "v")
        waited = time.monotonic() - start
    finally:
        release.join()
        holder.close()
    assert waited > 5
    assert tracking.get_registered_model(MODEL).tags["k"] == "v"

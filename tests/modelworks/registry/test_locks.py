"""The PostgreSQL advisory lock of champion moves and the choice of lock from the registry URI.

The lock tests run against a temporary database on the machine's PostgreSQL server
(``tests.servers``); advisory locks are per database, so nothing outside it is touched. The
holder of a lock is a spawned process of its own, as another promoter would be.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

from modelworks.registry.evidence import RegistryError
from modelworks.registry.locks import (
    FALLBACK_LOCK,
    LOCK_URL_ENV,
    FileLock,
    PostgresAdvisoryLock,
    RegistryLockError,
    RegistryLockTimeoutError,
    registry_lock,
)
from tests.servers import temporary_databases

MODEL = "churn"
WAIT_S = 30.0  # how long the test waits for a child to report, far above what it needs


def _hold(url: str, model_name: str, held: Event, release: Event) -> None:
    """Take the lock of ``model_name`` in another process and keep it until ``release``."""
    lock = PostgresAdvisoryLock(url, model_name, timeout_s=WAIT_S)
    lock.acquire()
    held.set()
    release.wait(WAIT_S)
    lock.release()


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A temporary PostgreSQL database for the locks: ``postgresql://...``."""
    with temporary_databases("locks") as urls:
        yield urls["locks"]


@pytest.fixture()
def holder(database: str) -> Iterator[BaseProcess]:
    """A spawned process holding the lock of ``MODEL`` until the test ends (or kills it)."""
    context = multiprocessing.get_context("spawn")
    held, release = context.Event(), context.Event()
    process = context.Process(target=_hold, args=(database, MODEL, held, release))
    process.start()
    try:
        assert held.wait(WAIT_S), "the holder never got the lock"
        yield process
    finally:
        # Not after a kill: Event.set waits for every waiter to wake, and a killed one never does.
        if process.is_alive():
            release.set()
        process.join(WAIT_S)
        if process.is_alive():
            process.kill()
            process.join()


def test_a_lock_held_by_another_process_times_out_and_names_the_model_and_database(
    database: str, holder: BaseProcess
) -> None:
    lock = PostgresAdvisoryLock(database, MODEL, timeout_s=0.3)
    start = time.monotonic()
    with pytest.raises(RegistryLockTimeoutError) as caught:
        lock.acquire()
    assert time.monotonic() - start >= 0.3
    dbname = database.rsplit("/", 1)[1]
    assert repr(MODEL) in str(caught.value)
    assert f"127.0.0.1:5432/{dbname}" in str(caught.value)
    # the failed attempt left nothing behind: a release is harmless, a retry waits again
    lock.release()
    with pytest.raises(RegistryLockTimeoutError):
        lock.acquire()


def test_another_model_is_not_blocked(database: str, holder: BaseProcess) -> None:
    start = time.monotonic()
    with PostgresAdvisoryLock(database, "another model", timeout_s=5):
        pass
    assert time.monotonic() - start < 2


def test_the_lock_of_a_killed_holder_is_freed(database: str, holder: BaseProcess) -> None:
    assert holder.pid is not None
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(WAIT_S)
    start = time.monotonic()
    with PostgresAdvisoryLock(database, MODEL, timeout_s=10):
        waited = time.monotonic() - start
    assert waited < 5


def test_release_hands_the_lock_to_the_next_and_the_lock_is_not_reentrant(database: str) -> None:
    first = PostgresAdvisoryLock(database, MODEL, timeout_s=0.2)
    # the SQLAlchemy spelling MLflow takes is the same lock as the plain one
    second = registry_lock(database.replace("postgresql://", "postgresql+psycopg://"), MODEL)
    assert isinstance(second, PostgresAdvisoryLock)
    second.timeout_s = 0.2
    first.acquire()
    try:
        with pytest.raises(RuntimeError, match="already held by this lock object"):
            first.acquire()
        with pytest.raises(RegistryLockTimeoutError):
            second.acquire()
    finally:
        first.release()
    with second, pytest.raises(RegistryLockTimeoutError):
        first.acquire()
    with first:
        pass


@pytest.mark.parametrize(
    ("url", "dbname"),
    [
        ("postgresql://alice:pw-s3cret%40x@127.0.0.1:1/warehouse", "warehouse"),
        # a reachable server refusing the user: the reason comes from the server
        ("postgresql+psycopg://nobody_here:pw-s3cret%40x@127.0.0.1:5432/warehouse", "warehouse"),
    ],
)
def test_an_unreachable_database_is_named_without_the_password(url: str, dbname: str) -> None:
    lock = PostgresAdvisoryLock(url, MODEL, timeout_s=5)
    with pytest.raises(RegistryLockError) as caught:
        lock.acquire()
    message = str(caught.value)
    host = url.split("@", 1)[1].split("/", 1)[0]
    assert f"cannot connect to the PostgreSQL database {host}/{dbname}" in message
    assert "pw-s3cret" not in message
    assert "failed" in message  # libpq's reason follows
    assert isinstance(caught.value, RegistryError)  # the CLI reports it as a registry error
    lock.release()  # nothing held, nothing to do


def test_sqlite_gets_the_file_lock_next_to_its_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LOCK_URL_ENV, "postgresql://postgres@127.0.0.1:5432/elsewhere")
    lock = registry_lock(f"sqlite:///{tmp_path / 'mlflow.db'}", MODEL, timeout_s=3)
    assert isinstance(lock, FileLock)
    assert (lock.path, lock.timeout_s) == (tmp_path / "mlflow.db.promotion.lock", 3)


@pytest.mark.parametrize(
    "uri",
    [
        "postgresql://postgres@db.example:5432/mlflow",
        "postgres://postgres@db.example:5432/mlflow",
        "postgresql+psycopg2://postgres@db.example:5432/mlflow",
        "postgresql+psycopg://postgres@db.example:5432/mlflow",
    ],
)
def test_a_postgresql_registry_gets_the_advisory_lock_in_its_own_database(
    uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LOCK_URL_ENV, "postgresql://postgres@127.0.0.1:5432/elsewhere")
    lock = registry_lock(uri, MODEL, timeout_s=3)
    assert isinstance(lock, PostgresAdvisoryLock)
    assert (lock.url, lock.key, lock.timeout_s) == (uri, f"modelworks.promotion:{MODEL}", 3)
    assert lock.database == "db.example:5432/mlflow"


def test_a_tracking_server_gets_the_advisory_lock_named_by_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = "postgresql+psycopg2://mlflow:pw@db.example/mlflow"
    monkeypatch.setenv(LOCK_URL_ENV, url)
    for uri in ("http://mlflow.example:5000", "https://mlflow.example", "databricks"):
        lock = registry_lock(uri, MODEL)
        assert isinstance(lock, PostgresAdvisoryLock)
        assert (lock.url, lock.database) == (url, "db.example/mlflow")


def test_a_tracking_server_without_the_environment_falls_back_to_the_file_lock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(LOCK_URL_ENV, raising=False)
    lock = registry_lock("http://mlflow.example:5000", MODEL)
    assert isinstance(lock, FileLock)
    assert lock.path == FALLBACK_LOCK
    monkeypatch.setenv(LOCK_URL_ENV, "  ")  # blank counts as unset
    assert isinstance(registry_lock("http://mlflow.example:5000", MODEL), FileLock)


@pytest.mark.parametrize(
    "value", ["mysql://root:pw@db.example/mlflow", "sqlite:///mlruns/mlflow.db", "db.example"]
)
def test_a_lock_url_that_is_not_postgresql_is_refused(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LOCK_URL_ENV, value)
    with pytest.raises(ValueError, match=LOCK_URL_ENV) as caught:
        registry_lock("http://mlflow.example:5000", MODEL)
    assert "pw" not in str(caught.value)

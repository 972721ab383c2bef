"""Locks that serialize the moves of a registered model's ``champion`` alias.

A promotion reads the champion, judges the challenger against it and moves the alias; two of
them at once must not both act on the champion they read. ``registry_lock`` returns the lock
that makes the read-judge-move-record sequence of ``modelworks.registry.promotion`` atomic
between processes sharing one registry:

- SQLite (the embedded default, ``sqlite:///mlruns/mlflow.db``): an exclusive ``fcntl.flock``
  on ``<db>.promotion.lock`` next to the database file, one lock file per database. Every
  process on the host that opens that database sees the same lock file.
- Any other URI (PostgreSQL, MySQL, an MLflow server over HTTP, ...): for now the same file
  lock, on ``mlruns/registry.promotion.lock`` under the project root (the working directory,
  where ``modelworks`` runs). That serializes promoters on this host only. A shared backend
  should get its own ``RegistryLock``: for PostgreSQL a session-level
  ``pg_advisory_lock(hashtext('modelworks.promotion:' || <model name>))`` on a connection
  held for the duration of the move, chosen in ``registry_lock`` from the URI scheme.
"""

from __future__ import annotations

import fcntl
import os
import time
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

# SQLite busy timeout: a second writer waits (up to 20 s) instead of failing "database is
# locked", and nothing here needs to set it. Evidence, MLflow 3.17.2 with SQLAlchemy 2.1:
# - mlflow/store/db/utils.py ``_get_managed_session_maker`` runs ``PRAGMA busy_timeout = 20000``
#   at the start of every tracking and registry store session on SQLite; every store read and
#   write goes through such a session. Measured: ``PRAGMA busy_timeout`` reads 20000 inside one.
# - ``create_sqlalchemy_engine`` hands the URI unchanged to ``sqlalchemy.create_engine``; the
#   only engine options it takes from the environment are MLFLOW_SQLALCHEMYSTORE_POOL_SIZE,
#   _MAX_OVERFLOW, _POOL_RECYCLE, _ECHO and _POOLCLASS (``connect_args`` only for MySQL SSL).
# - SQLAlchemy's pysqlite dialect (``create_connect_args``) does pass a ``?timeout=N`` query of
#   the URI to ``sqlite3.connect(timeout=N)`` (measured: 2000 ms on a bare connection with
#   ``?timeout=2``, sqlite3's default 5000 ms without), but the session PRAGMA above replaces it
#   in every store session, so it would only govern engine start-up (the schema check); the
#   project's URIs are left without it.
# tests/modelworks/registry/test_concurrency.py holds a write lock for 5.5 s from another
# connection and checks that a registry write waits it out, so an MLflow upgrade that drops the
# PRAGMA is noticed. Writers of one champion move no longer contend at all: they queue on the
# lock below.
LOCK_SUFFIX = ".promotion.lock"
FALLBACK_LOCK = Path("mlruns") / f"registry{LOCK_SUFFIX}"
DEFAULT_TIMEOUT_S = 600.0
_POLL_S = 0.05


class RegistryLockTimeoutError(TimeoutError):
    """The lock stayed held by another process for longer than the caller would wait."""


class RegistryLock(ABC):
    """An exclusive, blocking lock around one champion move of one registered model.

    Used as a context manager; not re-entrant. Implementations must release the lock when the
    holding process dies, so that a crashed promotion never blocks the next one.
    """

    @abstractmethod
    def acquire(self) -> None: ...

    @abstractmethod
    def release(self) -> None: ...

    def __enter__(self) -> RegistryLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


class FileLock(RegistryLock):
    """``fcntl.flock`` on ``path``: the kernel drops it when the process exits, however it
    exits. flock locks belong to an open file, so two threads of one process that each take
    this lock exclude each other too."""

    def __init__(self, path: Path, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self._fd: int | None = None

    def acquire(self) -> None:
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this lock object")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o664)
        deadline = time.monotonic() + self.timeout_s
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise RegistryLockTimeoutError(
                            f"another promotion or rollback has held {self.path} for more "
                            f"than {self.timeout_s:.0f} s"
                        ) from None
                    time.sleep(_POLL_S)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)


def lock_path(registry_uri: str) -> Path:
    """Where the file lock of ``registry_uri`` lives: ``<db>.promotion.lock`` next to a SQLite
    database file, else ``mlruns/registry.promotion.lock`` in the working directory."""
    parts = urlsplit(registry_uri)
    if parts.scheme == "sqlite":
        # sqlite:///relative/x.db -> path "/relative/x.db"; sqlite:////abs/x.db -> "//abs/x.db";
        # the query (?timeout=...) is not part of the file name.
        database = parts.path[1:] if parts.path.startswith("/") else parts.path
        if database and database != ":memory:":
            return Path(database).with_name(Path(database).name + LOCK_SUFFIX)
    return FALLBACK_LOCK


def registry_lock(
    registry_uri: str, model_name: str, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> RegistryLock:
    """The lock serializing the champion moves of ``model_name`` in ``registry_uri``.

    One file lock per SQLite database (``model_name`` is not part of it: promotions are rare
    and short under the lock); other schemes fall back to a file lock under the project's
    ``mlruns/`` (see the module docstring), which only excludes processes on this host.
    """
    del model_name  # a per-model lock (pg_advisory_lock) would key on it
    return FileLock(lock_path(registry_uri), timeout_s=timeout_s)

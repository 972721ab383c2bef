"""Locks that serialize the moves of a registered model's ``champion`` alias.

A promotion reads the champion, judges the challenger against it and moves the alias; two of
them at once must not both act on the champion they read. ``registry_lock`` returns the lock
that makes the read-judge-move-record sequence of ``modelworks.registry.promotion`` atomic
between processes sharing one registry. It is chosen from the registry URI's scheme:

- ``sqlite`` (the embedded default, ``sqlite:///mlruns/mlflow.db``): an exclusive
  ``fcntl.flock`` on ``<db>.promotion.lock`` next to the database file, one lock file per
  database. Every process on the host that opens that database sees the same lock file, and
  only processes on that host can open it.
- ``postgresql`` / ``postgres``, with or without a SQLAlchemy driver (``postgresql+psycopg``):
  ``PostgresAdvisoryLock`` in that database, a session-level advisory lock keyed on
  ``hashtext('modelworks.promotion:' || <model name>)`` on a connection of its own, held for
  the duration of the move. One lock per registered model: promotions of two models never
  wait for each other, and every host that reaches the database is excluded.
- Anything else (an MLflow tracking server over HTTP(S), MySQL, a local folder, ...): if
  ``MODELWORKS_REGISTRY_LOCK_URL`` (``LOCK_URL_ENV``) holds a PostgreSQL URL, the advisory
  lock in that database (the production profile points it at the MLflow server's backend
  database, so every promoter of that server shares it); a non-PostgreSQL value there is an
  error. Without it, a file lock on ``mlruns/registry.promotion.lock`` under the project root
  (the working directory, where ``modelworks`` runs), which serializes promoters on this host
  only: two hosts promoting through one tracking server are then not excluded.

Every lock here dies with its holder (the kernel drops a dead process's flock; PostgreSQL ends
a dead client's session, and the advisory lock with it, once it notices the closed
connection), so a crashed promotion never blocks the next one.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg

from modelworks.registry.evidence import RegistryError

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
LOCK_URL_ENV = "MODELWORKS_REGISTRY_LOCK_URL"
LOCK_KEY_PREFIX = "modelworks.promotion:"
POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})
# Seconds libpq waits for the server when opening the lock's connection, unless the URL says
# (``?connect_timeout=``); an unreachable database fails fast instead of hanging the promotion.
_CONNECT_TIMEOUT_S = 10
# Server-side TCP keepalives of the lock's session: if the holder's host vanishes without
# closing the connection, the server ends the session (and frees the lock) after about
# idle + interval * count seconds instead of the OS default of hours. Ignored on Unix sockets.
_KEEPALIVE_SETTINGS = (
    "SELECT set_config('tcp_keepalives_idle', '30', false), "
    "set_config('tcp_keepalives_interval', '10', false), "
    "set_config('tcp_keepalives_count', '3', false)"
)

logger = logging.getLogger(__name__)


class RegistryLockError(RegistryError):
    """The lock could not be taken for another reason than another holder: its database
    could not be reached. A ``RegistryError``, so the CLI reports it like the others."""


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


def _base_scheme(url: str) -> str:
    """The URL's scheme without a SQLAlchemy driver: ``postgresql+psycopg`` -> ``postgresql``."""
    return urlsplit(url).scheme.split("+", 1)[0].lower()


def is_postgres_url(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database (``postgresql://``, ``postgres://``, with
    or without ``+driver``)."""
    return _base_scheme(url) in POSTGRES_SCHEMES


def describe_database(url: str) -> str:
    """``host:port/dbname`` of a PostgreSQL URL, for messages: never the user's password."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = parts.hostname or query.get("host", ["localhost"])[0]
    try:
        port = parts.port or query.get("port", [None])[0]
    except ValueError:  # a port that is not a number: show none rather than fail the message
        port = None
    dbname = parts.path.lstrip("/") or query.get("dbname", [""])[0] or "(default database)"
    return f"{host}:{port}/{dbname}" if port else f"{host}/{dbname}"


class PostgresAdvisoryLock(RegistryLock):
    """A session-level ``pg_try_advisory_lock(hashtext('modelworks.promotion:' || model))``
    on a connection of its own, polled every ``_POLL_S`` until it is granted or ``timeout_s``
    has passed.

    The connection is opened by ``acquire`` and closed by ``release``, autocommit, so no
    transaction stays open while the lock is held. A session-level advisory lock belongs to
    its connection: closing it frees the lock, and so does the server ending the session of a
    client that died (at once when the client's socket is closed by its kernel; after the TCP
    keepalives above when its host vanished). Every process that reaches the database, on any
    host, is excluded. Not usable through a transaction-mode connection pooler (PgBouncer):
    it needs one server session for the whole hold.

    The lock is per model; ``hashtext`` is a 32-bit hash, so two model names may, very rarely,
    share a lock, which only makes them queue behind each other.
    """

    def __init__(self, url: str, model_name: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        if not is_postgres_url(url):
            raise ValueError(f"not a PostgreSQL URL: {describe_database(url)}")
        self.url = url
        self.model_name = model_name
        self.key = LOCK_KEY_PREFIX + model_name
        self.timeout_s = timeout_s
        self.database = describe_database(url)
        self._connection: psycopg.Connection[Any] | None = None

    def _dsn(self) -> str:
        """The URL as libpq takes it: SQLAlchemy's ``+driver`` part (``+psycopg``) dropped."""
        scheme, rest = self.url.split(":", 1)
        return scheme.split("+", 1)[0] + ":" + rest

    def _redact(self, text: str) -> str:
        """``text`` on one line, with the URL's password (as written and percent-decoded)
        masked."""
        text = " ".join(text.split())
        password = urlsplit(self.url).password
        for secret in {password, unquote(password)} if password else ():
            text = text.replace(secret, "***")
        return text

    def _connect(self) -> psycopg.Connection[Any]:
        options: dict[str, Any] = {"application_name": "modelworks registry lock"}
        query = parse_qs(urlsplit(self.url).query)
        if "connect_timeout" not in query:
            options["connect_timeout"] = _CONNECT_TIMEOUT_S
        if "application_name" in query:
            del options["application_name"]
        try:
            connection = psycopg.connect(self._dsn(), autocommit=True, **options)
        except psycopg.Error as exc:
            raise RegistryLockError(
                f"cannot connect to the PostgreSQL database {self.database} to lock the "
                f"champion of {self.model_name!r}: {self._redact(str(exc))}"
            ) from None
        try:
            connection.execute(_KEEPALIVE_SETTINGS)
        except psycopg.Error as exc:
            connection.close()
            raise RegistryLockError(
                f"cannot set up the lock's session in the PostgreSQL database {self.database} "
                f"for the champion of {self.model_name!r}: {self._redact(str(exc))}"
            ) from None
        except BaseException:
            connection.close()
            raise
        return connection

    def acquire(self) -> None:
        if self._connection is not None:
            raise RuntimeError(
                f"the lock of {self.model_name!r} in {self.database} is already held by this "
                "lock object"
            )
        deadline = time.monotonic() + self.timeout_s
        connection = self._connect()
        try:
            with connection.cursor() as cursor:
                while True:
                    cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (self.key,))
                    row = cursor.fetchone()
                    if row is not None and row[0]:
                        break
                    if time.monotonic() >= deadline:
                        raise RegistryLockTimeoutError(
                            f"another promotion or rollback of {self.model_name!r} has held "
                            f"its lock in the PostgreSQL database {self.database} for more "
                            f"than {self.timeout_s:g} s"
                        )
                    time.sleep(_POLL_S)
        except psycopg.Error as exc:
            connection.close()
            raise RegistryLockError(
                f"lost the PostgreSQL database {self.database} while locking the champion of "
                f"{self.model_name!r}: {self._redact(str(exc))}"
            ) from None
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", (self.key,))
                row = cursor.fetchone()
            if row is None or not row[0]:
                logger.warning(
                    "the lock of %r in %s was no longer held when released",
                    self.model_name,
                    self.database,
                )
        except psycopg.Error as exc:
            # The session is gone, and its lock with it, possibly before the move finished.
            logger.warning(
                "lost the PostgreSQL database %s while holding the lock of %r: %s",
                self.database,
                self.model_name,
                self._redact(str(exc)),
            )
        finally:
            connection.close()


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

    ``sqlite``: one file lock per database (``model_name`` is not part of it: promotions are
    rare and short under the lock). ``postgresql``/``postgres`` (any ``+driver``): the
    per-model advisory lock in that database. Any other scheme: the advisory lock in the
    database of ``MODELWORKS_REGISTRY_LOCK_URL`` when it is set, else a file lock under the
    project's ``mlruns/`` that only excludes processes on this host (see the module docstring).
    """
    scheme = _base_scheme(registry_uri)
    if scheme == "sqlite":
        return FileLock(lock_path(registry_uri), timeout_s=timeout_s)
    if scheme in POSTGRES_SCHEMES:
        return PostgresAdvisoryLock(registry_uri, model_name, timeout_s=timeout_s)
    lock_url = os.environ.get(LOCK_URL_ENV, "").strip()
    if lock_url:
        if not is_postgres_url(lock_url):
            raise ValueError(
                f"{LOCK_URL_ENV} must be a PostgreSQL URL (postgresql://user@host:port/db); "
                f"its scheme is {urlsplit(lock_url).scheme!r}"
            )
        return PostgresAdvisoryLock(lock_url, model_name, timeout_s=timeout_s)
    return FileLock(lock_path(registry_uri), timeout_s=timeout_s)

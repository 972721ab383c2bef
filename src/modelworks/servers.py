"""The servers of a Kedro environment with ``servers.yml`` (the production profile, ``conf/prod``).

An environment without that file runs on the embedded defaults (SQLite, local files) and
nothing here applies. With it:

- every ``kedro run`` and ``modelworks`` command checks, before anything else, that
  PostgreSQL, Redis and the MLflow tracking server answer, and names the one that does not;
- ``modelworks servers up`` (``make prod-up``) creates the databases that do not exist yet
  and starts the MLflow tracking server the project owns, on PostgreSQL with artifact serving;
  ``modelworks servers down`` (``make prod-down``) stops exactly what ``up`` started.

PostgreSQL and Redis themselves are a team's infrastructure: checked, never started here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kedro.framework.hooks import hook_impl
from pydantic import Field

from modelworks.params import StrictModel
from modelworks.registry.locks import LOCK_URL_ENV
from modelworks.root import under_root

STATE_DIR = Path(".servers")
"""Where ``servers up`` keeps the pid and log of what it started (git-ignored)."""
_CONNECT_TIMEOUT_S = 5


class ServersError(RuntimeError):
    """A server of the environment does not answer, or cannot be started."""


class PostgresServer(StrictModel):
    """One PostgreSQL server; every store keeps its state in its own database."""

    url: str
    """The server without a database: ``postgresql://user:password@host:5432``."""
    databases: dict[str, str]
    """Purpose (``mlflow``, ``feast``, ``optuna``) -> database name; made when missing."""

    def database_url(self, purpose: str) -> str:
        """The URL of the database kept for ``purpose``."""
        if purpose not in self.databases:
            raise ServersError(f"servers.yml: postgres.databases has no {purpose!r} entry")
        return f"{self.url.rstrip('/')}/{self.databases[purpose]}"


class RedisServer(StrictModel):
    """Redis, as Feast's online store reaches it."""

    connection: str
    """Feast's form: ``host:port[,db=N][,password=...][,ssl=true]``."""


class MlflowServer(StrictModel):
    """The MLflow tracking server: runs, the Model Registry and artifacts behind one URL."""

    tracking_uri: str
    start: bool = True
    """``servers up`` starts it on ``tracking_uri``'s port; false for a server run elsewhere."""
    backend_database: str = "mlflow"
    """The ``postgres.databases`` entry holding runs and the registry."""
    artifacts_destination: str
    """Where the server keeps artifacts: a folder, or ``s3://...``, ``gs://...``."""
    workers: int = Field(default=2, ge=1)


class ServersConfig(StrictModel):
    """``conf/<env>/servers.yml``."""

    postgres: PostgresServer
    redis: RedisServer
    mlflow: MlflowServer
    registry_lock_database: str | None = "mlflow"
    """The ``postgres.databases`` entry whose advisory locks serialise champion moves."""
    optuna_database: str | None = "optuna"
    """The ``postgres.databases`` entry holding Optuna studies (shared by search workers)."""


def load_servers(config_loader: Any) -> ServersConfig | None:
    """The environment's ``servers.yml``, typed; None on the embedded defaults."""
    from kedro.config import MissingConfigException

    from modelworks.params import parse_params

    try:
        raw = config_loader["servers"]
    except (MissingConfigException, KeyError):
        return None
    if not raw:
        return None
    parsed: ServersConfig = parse_params(ServersConfig, dict(raw), where="servers.yml")
    return parsed


def activate(servers: ServersConfig) -> None:
    """Point the champion lock and Optuna's studies at PostgreSQL: every process promoting
    into the tracking server serialises on the same advisory lock
    (``modelworks.registry.locks``), and every search worker shares one study database."""
    from modelworks.training.search import STORAGE_ENV

    if servers.registry_lock_database is not None:
        os.environ[LOCK_URL_ENV] = servers.postgres.database_url(servers.registry_lock_database)
    if servers.optuna_database is not None:
        os.environ[STORAGE_ENV] = servers.postgres.database_url(servers.optuna_database)


class ServersHook:
    """Before anything talks to them, check the environment's servers and point the champion
    lock at PostgreSQL; on the embedded defaults (no ``servers.yml``) it does nothing."""

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        servers = load_servers(context.config_loader)
        if servers is not None:
            check(servers)
            activate(servers)


# -- answering ------------------------------------------------------------------------------


def postgres_problem(url: str) -> str | None:
    """Why PostgreSQL at ``url`` does not answer, or None when it does."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=_CONNECT_TIMEOUT_S) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {redact(url)} does not answer: {_first_line(exc)}"
    return None


def redis_problem(connection: str) -> str | None:
    """Why Redis at Feast's ``connection`` string does not answer, or None when it does."""
    import redis

    kwargs = redis_kwargs(connection)
    try:
        client = redis.Redis(**kwargs, socket_connect_timeout=_CONNECT_TIMEOUT_S)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        return f"Redis at {kwargs['host']}:{kwargs['port']} does not answer: {_first_line(exc)}"
    return None


def mlflow_problem(tracking_uri: str) -> str | None:
    """Why the MLflow tracking server at ``tracking_uri`` does not answer, or None."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(
            f"{tracking_uri.rstrip('/')}/health", timeout=_CONNECT_TIMEOUT_S
        ) as answer:
            if answer.status == 200:
                return None
            return f"MLflow tracking server at {tracking_uri} answers /health with {answer.status}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"MLflow tracking server at {tracking_uri} does not answer: {reason}"


def check(servers: ServersConfig) -> None:
    """Raise ``ServersError`` naming every server that does not answer."""
    tracking = mlflow_problem(servers.mlflow.tracking_uri)
    if tracking and servers.mlflow.start:
        tracking += " (make prod-up starts it)"
    problems = [
        postgres_problem(servers.postgres.database_url(servers.mlflow.backend_database)),
        redis_problem(servers.redis.connection),
        tracking,
    ]
    found = [p for p in problems if p]
    if found:
        raise ServersError("; ".join(found))


# -- up and down ----------------------------------------------------------------------------


def create_databases(servers: ServersConfig) -> list[str]:
    """Create each ``postgres.databases`` entry that does not exist; returns those made."""
    import psycopg

    admin_url = f"{servers.postgres.url.rstrip('/')}/postgres"
    made = []
    # CREATE DATABASE cannot run inside a transaction
    with psycopg.connect(admin_url, connect_timeout=_CONNECT_TIMEOUT_S, autocommit=True) as db:
        existing = {row[0] for row in db.execute("SELECT datname FROM pg_database")}
        for name in dict.fromkeys(servers.postgres.databases.values()):
            if name not in existing:
                db.execute(f'CREATE DATABASE "{name}"')
                made.append(name)
    return made


def up(servers: ServersConfig, *, echo: Callable[[str], None] = print) -> None:
    """Check PostgreSQL and Redis, create missing databases, start the MLflow server."""
    problems = [
        postgres_problem(f"{servers.postgres.url.rstrip('/')}/postgres"),
        redis_problem(servers.redis.connection),
    ]
    found = [p for p in problems if p]
    if found:
        raise ServersError("; ".join(found))
    for name in create_databases(servers):
        echo(f"created database {name}")
    tracking = servers.mlflow.tracking_uri
    if mlflow_problem(tracking) is None:
        echo(f"MLflow tracking server already answers at {tracking}")
        return
    if not servers.mlflow.start:
        raise ServersError(f"MLflow tracking server at {tracking} does not answer (start: false)")
    pid = _start_mlflow(servers)
    echo(f"started MLflow tracking server at {tracking} (pid {pid}, log {_log_path()})")


def down(*, echo: Callable[[str], None] = print) -> None:
    """Stop what ``up`` started (nothing else): the process group in the pid file."""
    pid_file = _pid_path()
    if not pid_file.is_file():
        echo("nothing to stop: servers up started no server here")
        return
    pid = int(pid_file.read_text().split()[0])
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        echo(f"MLflow tracking server (pid {pid}) had already stopped")
    else:
        if not _wait_gone(pid, timeout_s=20):
            os.killpg(pid, signal.SIGKILL)
            _wait_gone(pid, timeout_s=5)
        echo(f"stopped MLflow tracking server (pid {pid})")
    pid_file.unlink()


def _start_mlflow(servers: ServersConfig) -> int:
    mlflow = servers.mlflow
    address = urlsplit(mlflow.tracking_uri)
    if address.scheme not in ("http", "https") or address.hostname is None:
        raise ServersError(
            f"mlflow.tracking_uri must be http://host:port, not {mlflow.tracking_uri}"
        )
    destination = mlflow.artifacts_destination
    if "://" not in destination:
        Path(destination).mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", servers.postgres.database_url(mlflow.backend_database),
        "--serve-artifacts",
        "--artifacts-destination", destination,
        "--host", address.hostname,
        "--port", str(address.port or 80),
        "--workers", str(mlflow.workers),
    ]  # fmt: skip
    # MLflow's job runner serves GenAI evaluation jobs, which tracking never submits; it
    # would cost six consumer processes of ~250 MB each.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = _log_path()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    _pid_path().write_text(f"{process.pid}\n")
    deadline = time.monotonic() + 120
    while (problem := mlflow_problem(mlflow.tracking_uri)) is not None:
        if process.poll() is not None or time.monotonic() > deadline:
            down(echo=lambda _: None)
            raise ServersError(f"{problem}; the server it started did not come up: see {log}")
        time.sleep(0.5)
    return process.pid


def _wait_gone(pgid: int, *, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        with contextlib.suppress(ChildProcessError):  # reap the leader if it is our child
            os.waitpid(pgid, os.WNOHANG)
        time.sleep(0.1)
    return False


def _pid_path() -> Path:
    return under_root(STATE_DIR) / "mlflow.pid"


def _log_path() -> Path:
    return under_root(STATE_DIR) / "mlflow.log"


# -- small helpers --------------------------------------------------------------------------


def redis_kwargs(connection: str) -> dict[str, Any]:
    """redis-py arguments from Feast's ``host:port,key=value,...`` connection string."""
    address, *options = [part.strip() for part in connection.split(",") if part.strip()]
    host, _, port = address.rpartition(":")
    kwargs: dict[str, Any] = {"host": host or address, "port": int(port) if host else 6379}
    for option in options:
        key, _, value = option.partition("=")
        if key == "db":
            kwargs["db"] = int(value)
        elif key == "ssl":
            kwargs["ssl"] = value.lower() == "true"
        elif key in ("password", "username"):
            kwargs[key] = value
    return kwargs


def redact(url: str) -> str:
    """``url`` without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

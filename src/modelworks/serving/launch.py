"""What ``modelworks serve`` hands the app: a use case's online limits, its request rules and
the feature store its environment's catalog names; and the server that runs it, in one
process or in several worker processes sharing the port."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from modelworks.params import StrictModel
from modelworks.serving.datasets import ServedModel
from modelworks.serving.limits import OnlineParams
from modelworks.serving.rules import rules_for
from modelworks.validation.spec import ColumnRule

if TYPE_CHECKING:
    from fastapi import FastAPI

SETTINGS_ENV = "MODELWORKS_SERVE_SETTINGS"
"""Where a worker process finds what it serves (``ServeSettings`` as JSON)."""

SERVER_OPTIONS: dict[str, Any] = {
    "http": "httptools",
    "loop": "uvloop",
    "access_log": False,
    "log_level": "warning",
}
"""uvicorn's C HTTP parser and event loop, and no access log: the server's share of a
one-millisecond request."""

WORKER_HEALTHCHECK_SECONDS = 30
"""How long uvicorn's supervisor waits for a worker process to answer its health check before
it kills the worker and starts another: uvicorn's default, 5 s, leaves no margin for a worker
whose start-up (imports, the model's loading) holds its interpreter on a busy or pinned core."""

_SUPERVISOR = (
    "import sys; from modelworks.serving.launch import supervise; "
    "sys.exit(supervise(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))"
)
"""The supervisor's program. Run with ``-c``, it has no main module for spawned workers to
import again; with ``-P``, its import path is the one the environment gives any command (not
the caller's, which loading a model prepends with the code logged with it)."""


class ServeSettings(StrictModel):
    """What a server process serves: a registered model's version by alias, with its limits
    and request rules."""

    model: str
    alias: str = "champion"
    online: OnlineParams = OnlineParams()
    rules: dict[str, ColumnRule] = {}


def app_from_environment() -> FastAPI:
    """The app of the ``ServeSettings`` in ``MODELWORKS_SERVE_SETTINGS``: each worker process
    loads the model itself (uvicorn's factory)."""
    from modelworks.serving.app import create_app
    from modelworks.serving.datasets import RegisteredModelDataset

    settings = ServeSettings.model_validate_json(os.environ[SETTINGS_ENV])
    served = RegisteredModelDataset(settings.model, alias=settings.alias).load()
    return create_app(served, settings.online, settings.rules)


def worker_app() -> FastAPI:
    """``app_from_environment`` as a worker process's factory. A worker that cannot build its
    app logs why and exits with uvicorn's start-up failure status, on which the supervisor
    stops the other workers and exits (rather than start the worker again, and again)."""
    from uvicorn.config import STARTUP_FAILURE

    try:
        return app_from_environment()
    except Exception:
        logging.getLogger("uvicorn.error").exception(
            "worker process %d could not build its app", os.getpid()
        )
        sys.exit(STARTUP_FAILURE)


def run_server(
    settings: ServeSettings,
    *,
    host: str,
    port: int,
    workers: int = 1,
    served: ServedModel | None = None,
) -> None:
    """Serve until stopped: one process (``served`` if already loaded), or ``workers``
    processes, each with its own copy of the model, that the operating system hands
    connections to in turn (uvicorn's supervisor restarts one that dies).

    With several workers this process becomes their supervisor (``supervise``) in a fresh
    interpreter, in place of this one: uvicorn's spawned workers first import their parent's
    main module, and a caller's (the ``modelworks`` command imports the whole CLI: seconds)
    would hold each worker from answering the supervisor's health check. Its exit status is
    1 if a worker failed to start."""
    import uvicorn

    from modelworks.serving.app import create_app
    from modelworks.serving.datasets import RegisteredModelDataset

    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if workers == 1:
        model = served or RegisteredModelDataset(settings.model, alias=settings.alias).load()
        app = create_app(model, settings.online, settings.rules)
        uvicorn.run(app, host=host, port=port, **SERVER_OPTIONS)
        return
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(
        sys.executable, [sys.executable, "-P", "-c", _SUPERVISOR, host, str(port), str(workers)]
    )


def supervise(host: str, port: int, workers: int) -> int:
    """Run uvicorn's supervisor of ``workers`` worker processes (``worker_app``) sharing the
    port until stopped; the exit status: 1 if a worker failed to start (its error is in the
    log), else 0. The supervisor's notices (a worker that died and was replaced) are shown."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        f"{__name__}:{worker_app.__name__}",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        **SERVER_OPTIONS,
    )
    logging.getLogger("uvicorn.error").setLevel(logging.INFO)
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    failed = [str(p.pid) for p in supervisor.processes if p.exitcode == STARTUP_FAILURE]
    if failed:
        print(
            f"Error: worker process {', '.join(failed)} failed to start: its error is above",
            file=sys.stderr,
        )
        return 1
    return 0


def online_settings(
    model: ServedModel, use_case_params: Any
) -> tuple[OnlineParams, dict[str, ColumnRule]]:
    """``scoring.online`` of the use case (defaults where absent), and the rule of each input
    field of the model's signature that the use case's validation tables declare."""
    scoring = getattr(use_case_params, "scoring", None)
    online = getattr(scoring, "online", None) or OnlineParams()
    spec = getattr(use_case_params, "validation", None)
    schema = model.pyfunc.metadata.get_input_schema()
    if spec is None or schema is None or not schema.has_input_names():
        return online, {}
    return online, rules_for(schema.input_names(), spec, online.rules_from)


def feature_store_env(catalog: Mapping[str, Any], use_case: str) -> dict[str, str]:
    """``FEAST_FS_YAML_FILE_PATH`` where the environment's catalog configures
    ``<use_case>.feature_store`` from a file other than its repo's ``feature_store.yaml``
    (the production profile's Redis online store): a served model then reads its online
    features there. Empty otherwise: the model's own feature repo configures itself."""
    from kedro.io.catalog_config_resolver import CatalogConfigResolver

    from modelworks.features.store import FS_YAML_ENV
    from modelworks.root import under_root

    # (runtime patterns given, so the resolver does not announce its default)
    resolver = CatalogConfigResolver(
        config=dict(catalog), default_runtime_patterns={"{default}": {"type": "MemoryDataset"}}
    )
    name = f"{use_case}.feature_store"
    if resolver.match_dataset_pattern(name) is None and name not in resolver.config:
        return {}
    config_file = resolver.resolve_pattern(name).get("fs_yaml_file")
    return {FS_YAML_ENV: str(under_root(config_file))} if config_file else {}

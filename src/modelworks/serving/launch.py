"""What ``modelworks serve`` hands the app: a use case's online limits, its request rules and
the feature store its environment's catalog names; and the server that runs it, in one
process or in several worker processes sharing the port."""

from __future__ import annotations

import os
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
    connections to in turn (uvicorn's supervisor restarts one that dies)."""
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
    target = f"{__name__}:{app_from_environment.__name__}"
    uvicorn.run(target, factory=True, host=host, port=port, workers=workers, **SERVER_OPTIONS)


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

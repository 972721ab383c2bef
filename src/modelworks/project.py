"""The Kedro project as the command line sees it: its parameters and its MLflow connection.

Commands run from anywhere inside the project; the root is the folder whose
``pyproject.toml`` declares ``[tool.kedro]``. Configuration is read with the project's own
config loader and environments, as ``kedro run`` reads it, and MLflow is pointed at the
tracking and registry URIs of ``conf/*/mlflow.yml``, without starting a Kedro session.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kedro.config import MissingConfigException

from modelworks.discovery import discover_use_cases
from modelworks.params import parse_params
from modelworks.root import ProjectError, find_root, project_root
from modelworks.secrets import MissingSecretError
from modelworks.servers import ServersError, activate, check, load_servers
from modelworks.use_cases import UseCase

__all__ = ["Project", "ProjectError", "find_root", "load_project", "project_root"]


@dataclass(frozen=True)
class Project:
    """A loaded project: its root and configuration."""

    root: Path
    config: Any
    env: str | None

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.config["parameters"])

    def use_case_of(self, model_name: str) -> tuple[UseCase, Any]:
        """The use case that registers ``model_name``, with its typed parameters."""
        params = self.params
        known = []
        for use_case in discover_use_cases():
            block = params.get(use_case.name)
            if block is None:
                continue
            typed = parse_params(use_case.params_model, block, where=use_case.name)
            registry = getattr(typed, "registry", None)
            if registry is None:
                continue
            if registry.model_name == model_name:
                return use_case, typed
            known.append(registry.model_name)
        raise ProjectError(f"no use case registers a model named {model_name!r}; known: {known}")

    def schedules(self) -> list[Any]:
        """The schedules of ``conf/*/schedules.yml``, checked against use cases and pipelines;
        each runs in this project's environment unless it names its own."""
        from kedro.framework.project import pipelines

        from modelworks.scheduling.schedules import parse_schedules

        try:
            config = self.config["schedules"]
        except MissingConfigException:
            return []
        schedules = parse_schedules(
            config,
            use_cases=[use_case.name for use_case in discover_use_cases()],
            pipelines=list(pipelines),
        )
        # a schedule read under --env prod runs there, unless it names its own environment
        return [s.model_copy(update={"env": s.env or self.env}) for s in schedules]


def load_project(
    start: Path | None = None, env: str | None = None, *, check_servers: bool = True
) -> Project:
    """The project's configuration, with MLflow connected and the working directory its root.

    In an environment with ``servers.yml`` each server must answer first (unless
    ``check_servers`` is false: ``modelworks servers up`` is what starts them). A server that
    does not answer or a secret that is not set is a ``ProjectError`` naming it."""
    from kedro.framework.project import settings
    from kedro.framework.startup import bootstrap_project

    root = find_root(start)
    os.chdir(root)  # MLflow's sqlite:///mlruns/... and Feast's paths are relative to the root
    bootstrap_project(root)
    args = dict(settings.CONFIG_LOADER_ARGS)
    args["config_patterns"] = {
        **args.get("config_patterns", {}),
        "mlflow": ["mlflow*", "mlflow*/**"],
        "schedules": ["schedules*", "schedules*/**"],
    }
    config = settings.CONFIG_LOADER_CLASS(
        conf_source=str(root / settings.CONF_SOURCE), env=env, **args
    )
    try:
        servers = load_servers(config)
        if servers is not None:  # a server profile: each answers before MLflow is asked anything
            if check_servers:
                check(servers)
            activate(servers)
        _connect_mlflow(config["mlflow"])
    except ServersError as exc:
        raise ProjectError(str(exc)) from None
    except Exception as exc:  # OmegaConf wraps a ${secret:...} that is not set
        missing = MissingSecretError.behind(exc)
        if missing is None:
            raise
        raise ProjectError(str(missing)) from None
    return Project(root=root, config=config, env=env)


def _connect_mlflow(mlflow_config: dict[str, Any]) -> None:
    """Tracking and registry URIs as kedro-mlflow would set them for ``kedro run``."""
    import mlflow

    server = mlflow_config.get("server", {})
    tracking = server.get("mlflow_tracking_uri") or "mlruns"
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(server.get("mlflow_registry_uri") or tracking)

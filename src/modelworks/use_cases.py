"""What a use case is to the framework (``UseCase``), and the Kedro environment declared use
cases are read from. ``modelworks.discovery`` finds them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kedro.pipeline import Pipeline

from modelworks.params import StrictModel

USE_CASE_PACKAGE = "pipelines"

_session_env: str | None = None


@dataclass(frozen=True)
class UseCase:
    """What a use case declares to the framework.

    ``create_pipelines`` returns the use case's named Kedro pipelines; ``params_model`` types
    the top-level parameter key named after the use case; ``feature_definitions`` returns its
    Feast objects (entities, sources, feature views, services), built lazily because importing
    Feast is slow.
    """

    name: str
    params_model: type[StrictModel]
    create_pipelines: Callable[[], dict[str, Pipeline]]
    feature_definitions: Callable[[], Iterable[Any]] = field(default=lambda: ())


def use_session_env(env: str | None) -> None:
    """Tell discovery the Kedro environment of the running session (``kedro run --env``).

    Declared use cases are read from the parameters of that environment; without it, from
    ``KEDRO_ENV`` or base + local, as Kedro itself defaults.
    """
    global _session_env
    _session_env = env


def session_env() -> str | None:
    """The environment declared use cases are read from."""
    return _session_env or os.environ.get("KEDRO_ENV") or None

"""Use-case discovery: every package under ``pipelines/`` that exposes ``USE_CASE`` is one.

The framework never names a use case; it finds them here, so adding one touches only
``pipelines/<name>/`` and ``conf/``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from kedro.pipeline import Pipeline

from modelworks.params import StrictModel

USE_CASE_PACKAGE = "pipelines"


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


@cache
def discover_use_cases() -> tuple[UseCase, ...]:
    """Import ``pipelines.<name>`` for every sub-package and collect its ``USE_CASE``."""
    package = importlib.import_module(USE_CASE_PACKAGE)
    found = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not info.ispkg or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{USE_CASE_PACKAGE}.{info.name}")
        use_case = getattr(module, "USE_CASE", None)
        if not isinstance(use_case, UseCase):
            raise TypeError(f"{module.__name__} must define USE_CASE = UseCase(...)")
        if use_case.name != info.name:
            raise ValueError(
                f"{module.__name__}: USE_CASE.name is {use_case.name!r}, expected {info.name!r}"
            )
        found.append(use_case)
    return tuple(found)

"""MLflow's plug-ins from other packages, loaded when they can matter rather than at import.

Feast registers ``FeastMLflowHeaderProvider`` under MLflow's ``mlflow.request_header_provider``
entry point. MLflow loads every such provider when its request-header registry is first
imported, and loading Feast's imports the whole ``feast`` package (and torch through it): about
ten seconds in every process that imports ``mlflow.tracking``, whether it uses Feast or not.

Feast's provider is in context only while a Feast call has set its token (a context variable
in ``feast.infra.data_sources.mlflow.auth``), which needs that module imported. So a stand-in
that answers "not in context" until the module is in ``sys.modules``, and delegates to Feast's
own provider from then on, sends exactly the headers Feast's would, without the import.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
from collections.abc import Sequence
from typing import Any

HEADER_REGISTRY = "mlflow.tracking.request_header.registry"
HEADER_GROUP = "mlflow.request_header_provider"
FEAST_AUTH = "feast.infra.data_sources.mlflow.auth"


class DeferredHeaderProvider:
    """A request-header provider whose module is imported by someone else first.

    ``in_context`` is False while ``module`` is not imported (its provider cannot be in context
    then: its state lives in that module); afterwards every call goes to the real provider.
    """

    def __init__(self, module: str, attribute: str) -> None:
        self.module, self.attribute = module, attribute
        self._provider: Any = None

    def _loaded(self) -> Any:
        if self._provider is None and self.module in sys.modules:
            self._provider = getattr(sys.modules[self.module], self.attribute)()
        return self._provider

    def in_context(self) -> bool:
        provider = self._loaded()
        return bool(provider is not None and provider.in_context())

    def request_headers(self) -> dict[str, str]:
        provider = self._loaded()
        return dict(provider.request_headers()) if provider is not None else {}


class _DeferredEntryPoint:
    """Feast's entry point, whose ``load`` gives the deferred provider's factory."""

    def __init__(self, entry_point: Any) -> None:
        self.name, self.value = entry_point.name, entry_point.value
        self.module, _, self.attribute = entry_point.value.partition(":")

    def load(self) -> Any:
        return lambda: DeferredHeaderProvider(self.module, self.attribute)


def _defer_feast(entry_points: Sequence[Any]) -> list[Any]:
    return [
        _DeferredEntryPoint(point) if point.value.startswith(f"{FEAST_AUTH}:") else point
        for point in entry_points
    ]


class _RegistryImportHook(importlib.abc.MetaPathFinder):
    """Wraps MLflow's entry-point lookup just before its request-header registry is imported
    (MLflow's own packages are loaded by then), then steps out of the import system."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname == HEADER_REGISTRY:
            sys.meta_path.remove(self)
            plugins = importlib.import_module("mlflow.utils.plugins")
            original = plugins.get_entry_points

            def get_entry_points(group: str) -> list[Any]:
                points = list(original(group))
                return _defer_feast(points) if group == HEADER_GROUP else points

            # The registry binds ``get_entry_points`` when it runs, which is after this.
            setattr(plugins, "get_entry_points", get_entry_points)  # noqa: B010
        return None


def defer_feast_header_provider() -> None:
    """Install the deferral, once, before MLflow's request-header registry is imported.

    A no-op when the registry is already imported (its providers are loaded then).
    """
    if HEADER_REGISTRY in sys.modules:
        return
    if not any(isinstance(finder, _RegistryImportHook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegistryImportHook())

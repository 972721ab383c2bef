"""Use-case discovery. A use case is either

* a package under ``pipelines/`` that exposes ``USE_CASE`` (a use case with domain code), or
* a top-level parameter block with a ``declared:`` key (a tabular use case in YAML alone,
  built by ``modelworks.declared``).

The framework never names a use case; it finds them here, so adding one touches only
``conf/`` (and ``pipelines/<name>/`` where the use case needs Python). This module sits above
every other: the pipelines get what they need of all use cases (their Feast objects) through
the catalog (``FeatureDefinitionsDataset``), never by importing discovery.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from modelworks.features.definitions import merge_definitions
from modelworks.use_cases import USE_CASE_PACKAGE, UseCase, session_env


def discover_use_cases() -> tuple[UseCase, ...]:
    """Every use case of the project, read in the session's environment."""
    return _discover(session_env())


def forget_use_cases() -> None:
    """Discover afresh on the next call (discovery caches per process and environment)."""
    _discover.cache_clear()


@cache
def _discover(env: str | None) -> tuple[UseCase, ...]:
    """The packaged use cases (``pipelines.<name>.USE_CASE``), then the declared ones."""
    from modelworks.declared.discovery import declared_use_cases

    packaged = _packaged_use_cases()
    names = {use_case.name for use_case in packaged}
    declared = declared_use_cases(env)
    both = sorted(names & {use_case.name for use_case in declared})
    if both:
        raise ValueError(
            f"Use case(s) {both} are both a package under {USE_CASE_PACKAGE}/ and a declared "
            "block (a `declared:` key in their parameters): keep one"
        )
    return (*packaged, *declared)


def _packaged_use_cases() -> list[UseCase]:
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
    return found


def gather_feature_definitions() -> list[Any]:
    """Every use case's Feast objects, each (kind, name) once (``feast apply`` of the repo)."""
    return merge_definitions(
        (use_case.name, use_case.feature_definitions()) for use_case in discover_use_cases()
    )


class FeatureDefinitionsDataset(AbstractDataset[None, list[Any]]):
    """Every use case's Feast objects, for the node that applies the feature repo: applying
    one use case's views must not drop another's from the registry."""

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        self.metadata = metadata

    def load(self) -> list[Any]:
        return gather_feature_definitions()

    def save(self, data: None) -> None:
        raise DatasetError("Feast definitions come from the use cases; they are not written")

    def _describe(self) -> dict[str, Any]:
        return {}

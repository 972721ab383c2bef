"""Kedro pipeline registry: the pipelines of every discovered use case (a package under
``pipelines/`` or a block declared in conf/), and their sum."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from modelworks.discovery import discover_use_cases


def register_pipelines() -> dict[str, Pipeline]:
    """``<use_case>`` and its sub-pipelines for each use case; ``__default__`` runs them all."""
    pipelines: dict[str, Pipeline] = {}
    for use_case in discover_use_cases():
        for name, pipe in use_case.create_pipelines().items():
            if name in pipelines:
                raise ValueError(f"Pipeline name {name!r} is registered twice")
            pipelines[name] = pipe
    pipelines["__default__"] = sum(
        (pipelines[use_case.name] for use_case in discover_use_cases()), Pipeline([])
    )
    return pipelines

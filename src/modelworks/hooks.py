"""Project hooks: the parameter blocks of the use cases a run runs validated before its first
node, typed parameters logged by kedro-mlflow as the flat key/value pairs it knows how to show,
and the wall time of every node recorded in the pipeline's MLflow run."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro.pipeline import Pipeline
from kedro_mlflow.framework.hooks import MlflowHook

from modelworks.discovery import discover_use_cases
from modelworks.params import ParameterError, parse_params, to_plain
from modelworks.use_cases import UseCase, use_session_env


class ParameterValidationHook:
    """Stop a run before its first node, naming the key, when a use case it runs has a bad
    parameter block; the use cases it does not run are not looked at.

    Kedro validates each ``params:`` input against its node's Pydantic annotation, scoped to
    the requested pipelines, and may report first; this checks the whole block of every use case
    in the run, so a key no node reads (a misspelt section name, say) fails too.
    """

    def __init__(self) -> None:
        self._config_loader: Any = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        # Not context.params: reading it validates every registered pipeline's parameters, so
        # one use case's bad YAML would stop the runs of all the others.
        self._config_loader = context.config_loader
        # Declared use cases are read from the session's environment (`kedro run --env prod`).
        use_session_env(context.env)

    # tryfirst: before kedro-mlflow's hook opens the run's MLflow run, which a failure here
    # would leave open.
    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, pipeline: Pipeline) -> None:
        validate_use_case_params(self._config_loader["parameters"], running_use_cases(pipeline))


def running_use_cases(pipeline: Pipeline) -> list[UseCase]:
    """The use cases whose nodes are in ``pipeline``, or whose parameters its nodes read.

    Every use case's nodes live in its namespace (``<use_case>.<node>``) and read
    ``params:<use_case>.<key>``; reading another use case's datasets does not make it run.
    """
    tops: set[str] = set()
    for node in pipeline.nodes:
        tops.add((node.namespace or "").split(".")[0])
        tops.update(
            name.removeprefix("params:").split(".")[0]
            for name in node.inputs
            if name.startswith("params:")
        )
    return [use_case for use_case in discover_use_cases() if use_case.name in tops]


def validate_use_case_params(params: Mapping[str, Any], use_cases: list[UseCase]) -> None:
    """Raise one ParameterError naming every bad or missing block among ``use_cases``."""
    problems = []
    for use_case in use_cases:
        if use_case.name not in params:
            problems.append(
                f"No parameters for use case {use_case.name!r}: expected a top-level key "
                f"'{use_case.name}' in conf/*/parameters/"
            )
            continue
        try:
            parse_params(use_case.params_model, params[use_case.name], where=use_case.name)
        except ParameterError as exc:
            problems.append(str(exc))
    if problems:
        raise ParameterError("\n".join(problems))


class TypedParamsMlflowHook(MlflowHook):
    """kedro-mlflow's hook, handed Pydantic parameters as dicts so it logs one param per key."""

    @hook_impl
    def before_node_run(
        self, node: Any, catalog: Any, inputs: dict[str, Any], is_async: bool
    ) -> None:
        plain = {name: to_plain(value) for name, value in inputs.items()}
        super().before_node_run(node=node, catalog=catalog, inputs=plain, is_async=is_async)


class NodeTimingHook:
    """Each node's wall time as metric ``node_seconds.<node>`` of the pipeline's MLflow run.

    Every run then carries its own per-node breakdown, so a slow step shows in the MLflow UI
    next to the metrics it produced, and runs compare across data sizes and versions.
    """

    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        self._started[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        started = self._started.pop(node.name, None)
        if started is None or mlflow.active_run() is None:
            return
        mlflow.log_metric(f"node_seconds.{node.name}", time.perf_counter() - started)

"""Project hooks: whole use-case parameter blocks validated at start-up, typed parameters
logged by kedro-mlflow as the flat key/value pairs it knows how to show, and the wall time of
every node recorded in the pipeline's MLflow run."""

from __future__ import annotations

import time
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro_mlflow.framework.hooks import MlflowHook

from modelworks.params import ParameterError, parse_params, to_plain
from modelworks.use_cases import discover_use_cases


class ParameterValidationHook:
    """Fail at start-up, naming the key, when a use case's parameter block has a wrong key.

    Kedro already validates each ``params:`` input against its node's Pydantic annotation;
    this also catches keys no node reads (a misspelt section name, say).
    """

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        params = context.params
        for use_case in discover_use_cases():
            if use_case.name not in params:
                raise ParameterError(
                    f"No parameters for use case {use_case.name!r}: expected a top-level key "
                    f"'{use_case.name}' in conf/*/parameters/"
                )
            parse_params(use_case.params_model, params[use_case.name], where=use_case.name)


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

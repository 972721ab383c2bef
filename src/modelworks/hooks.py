"""Project hooks: the parameter blocks of the use cases a run runs validated before its first
node, one MLflow run per use case in that use case's experiment (its parameters, tags a
reviewer filters by), and the wall time of every node recorded in the use case's run."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro.pipeline import Pipeline
from kedro_mlflow.config.kedro_mlflow_config import KedroMlflowConfig
from kedro_mlflow.framework.hooks import MlflowHook
from kedro_mlflow.framework.hooks.utils import (
    _assert_mlflow_enabled,
    _flatten_dict,
    _generate_kedro_command,
)
from mlflow import MlflowClient
from mlflow.entities import RunStatus
from mlflow.exceptions import MlflowException

from modelworks.discovery import discover_use_cases
from modelworks.params import ParameterError, parse_params, to_plain
from modelworks.registry import tracking
from modelworks.run_recovery import process_tags
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


USE_CASE_PLACEHOLDER = "{use_case}"
# Sections of a use case's parameters that are not knobs to compare runs by: data contracts
# (hundreds of expectation rules, shown in the validation report) and each candidate's model
# parameters (logged on the candidate's own run). The whole block is the run's
# ``parameters.json`` artifact.
UNLOGGED_SECTIONS = ("validation", "declared", "training.candidates", "simulation.policies")
_RUNNING = RunStatus.to_string(RunStatus.RUNNING)
_FINISHED = RunStatus.to_string(RunStatus.FINISHED)
_FAILED = RunStatus.to_string(RunStatus.FAILED)


class TypedParamsMlflowHook(MlflowHook):
    """kedro-mlflow's hook, with one MLflow run per use case of a pipeline run, each in its use
    case's experiment.

    ``tracking.experiment.name`` in mlflow.yml is a pattern: ``{use_case}`` is replaced by the
    use case's name (as in ``artifact_location``), so a ``kedro run`` of every use case writes
    each one's run, candidates and folds into its own experiment. Before each node, the run of
    the node's use case (its namespace) becomes the active one; the runs not in use stay
    RUNNING until the pipeline ends, when they all end (FAILED on a pipeline error).
    Each run logs only its use case's parameters, those a reviewer compares (see
    ``reviewable_params``), and tags ``use_case``, ``task`` and ``kind`` (``pipeline`` for a
    use case's whole lifecycle, else the sub-pipeline: ``train``, ``score``, ``monitor``...).
    A run already active before the session (an orchestrator's) is used as kedro-mlflow uses it.
    """

    def __init__(self) -> None:
        super().__init__()
        self._runs: dict[str, str] = {}  # use case -> its pipeline run
        self._blocks: dict[str, Any] = {}  # use case -> its typed parameter block
        self._experiments: dict[str, str] = {}  # use case -> its experiment id
        self._logged: dict[str, set[str]] = {}  # use case -> the params its run has
        self._config_loader: Any = None
        self._fallback = "modelworks"

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        with _no_experiment_at_start():
            super().after_context_created(context)
        self._config_loader = context.config_loader
        self._fallback = context._package_name or self._fallback

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any
    ) -> None:
        names = run_params.get("pipeline_names") or ["__default__"]
        self._runs = {}
        if self._already_active_mlflow or not _assert_mlflow_enabled(names, self.mlflow_config):
            super().before_pipeline_run(run_params=run_params, pipeline=pipeline, catalog=catalog)
            return
        self._is_mlflow_enabled = True
        self.long_params_strategy = self.mlflow_config.tracking.params.long_params_strategy
        parameters = self._config_loader["parameters"]
        # typed, so the blocks carry their defaults (a use case's task, say); validated already
        blocks: dict[str, Any] = {
            use_case.name: to_plain(
                parse_params(use_case.params_model, parameters[use_case.name], where=use_case.name)
            )
            for use_case in running_use_cases(pipeline)
        }
        use_cases = list(blocks) or [self._fallback]
        self._blocks = blocks
        tags = {
            **run_tags(run_params),
            **process_tags(),
            **tracking.source_tags(),
            "kedro_command": _kedro_command(run_params, names),
        }
        run_name = self.mlflow_config.tracking.run.name or "+".join(names)
        for use_case in use_cases:
            block = blocks.get(use_case)
            self._experiments[use_case] = self._experiment_id(use_case)
            self._runs[use_case] = self._start_use_case_run(
                use_case,
                # `kedro run` of every use case is, in each experiment, that use case's run
                use_case if names == ["__default__"] else run_name,
                {**tags, **use_case_tags(use_case, names, block)},
                block,
            )
        self.run_id = self._runs[use_cases[0]]
        self._activate(use_cases[0])

    @hook_impl
    def before_node_run(
        self, node: Any, catalog: Any, inputs: dict[str, Any], is_async: bool
    ) -> None:
        if not self._runs:
            plain = {name: to_plain(value) for name, value in inputs.items()}
            super().before_node_run(node=node, catalog=catalog, inputs=plain, is_async=is_async)
            return
        use_case = self._use_case_of(node)
        self._activate(use_case)
        if "parameters" in inputs:  # typed blocks: a key reads the same whichever node logs it
            inputs = {**inputs, "parameters": self._blocks}
        logged = self._logged[use_case]
        for key, value in reviewable_params(inputs, use_case).items():
            key = self.sanitize_param_name(key)
            if key not in logged:
                self._log_param(key, value)
                logged.add(key)

    @hook_impl
    def after_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any
    ) -> None:
        if not self._runs:
            super().after_pipeline_run(run_params=run_params, pipeline=pipeline, catalog=catalog)
            return
        self._end_runs(_FINISHED)

    @hook_impl
    def on_pipeline_error(
        self, error: Exception, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any
    ) -> None:
        if not self._runs:
            super().on_pipeline_error(
                error=error, run_params=run_params, pipeline=pipeline, catalog=catalog
            )
            return
        self._end_runs(_FAILED)

    def _experiment_id(self, use_case: str) -> str:
        """The use case's experiment, made (or restored) on its first run."""
        settings = self.mlflow_config.tracking.experiment
        name = fill_use_case(settings.name, use_case)
        client = MlflowClient()
        found = client.get_experiment_by_name(name)
        if found is None:
            location = settings.create_experiment_kwargs.artifact_location
            try:
                return client.create_experiment(
                    name,
                    artifact_location=fill_use_case(location, use_case) if location else None,
                    tags=settings.create_experiment_kwargs.tags,
                )
            except MlflowException:  # another process made it first
                found = client.get_experiment_by_name(name)
                if found is None:
                    raise
        if found.lifecycle_stage == "deleted" and settings.restore_if_deleted:
            client.restore_experiment(found.experiment_id)
        return str(found.experiment_id)

    def _start_use_case_run(
        self, use_case: str, run_name: str, tags: dict[str, str], block: Any
    ) -> str:
        """Start the use case's run with its tags and whole parameter block; leave it RUNNING."""
        mlflow.set_experiment(experiment_id=self._experiments[use_case])
        run = mlflow.start_run(
            experiment_id=self._experiments[use_case],
            run_name=run_name,
            nested=self.mlflow_config.tracking.run.nested,
            tags=tags,
        )
        if isinstance(block, Mapping):
            mlflow.log_dict(dict(block), "parameters.json")
        self._logged[use_case] = set()
        mlflow.end_run(_RUNNING)  # steps aside without finishing: other use cases start theirs
        return str(run.info.run_id)

    def _use_case_of(self, node: Any) -> str:
        """The use case whose namespace holds ``node`` (a node of none: the first use case)."""
        top = (node.namespace or "").split(".")[0]
        return top if top in self._runs else next(iter(self._runs))

    def _activate(self, use_case: str) -> None:
        """Make the use case's run the active one, setting aside the run active before."""
        run_id = self._runs[use_case]
        ours = set(self._runs.values())
        while (active := mlflow.active_run()) is not None and active.info.run_id != run_id:
            # a use case's run steps aside, RUNNING; a nested run a node left open ends
            mlflow.end_run(_RUNNING if active.info.run_id in ours else _FINISHED)
        if active is None:
            # resuming checks the run against the process's experiment, and runs nested under
            # it default to that experiment
            mlflow.set_experiment(experiment_id=self._experiments[use_case])
            mlflow.start_run(run_id=run_id, nested=self.mlflow_config.tracking.run.nested)

    def _end_runs(self, status: str) -> None:
        """End every run this pipeline run opened, nested ones first."""
        while mlflow.active_run() is not None:
            mlflow.end_run(status)
        client = MlflowClient()
        for run_id in self._runs.values():
            client.set_terminated(run_id, status)
        self._runs = {}


@contextmanager
def _no_experiment_at_start() -> Iterator[None]:
    """kedro-mlflow makes the experiment named in mlflow.yml when the context is created; here
    that name is a pattern, and each use case's experiment is made when its first run starts."""
    make = KedroMlflowConfig._set_experiment
    setattr(KedroMlflowConfig, "_set_experiment", lambda config: None)  # noqa: B010
    try:
        yield
    finally:
        setattr(KedroMlflowConfig, "_set_experiment", make)  # noqa: B010


def fill_use_case(pattern: str, use_case: str) -> str:
    """``pattern`` with ``{use_case}`` replaced (also as kedro-mlflow's URI of a local
    ``artifact_location`` spells it, percent-encoded)."""
    return pattern.replace(USE_CASE_PLACEHOLDER, use_case).replace("%7Buse_case%7D", use_case)


def use_case_tags(use_case: str, pipeline_names: list[str], block: Any) -> dict[str, str]:
    """``use_case``, ``task`` (its training block's) and ``kind`` of a use case's run: the
    sub-pipeline's name after ``<use_case>_`` (``train``, ``score``, ``monitor``...), or
    ``pipeline`` for its whole lifecycle (``kedro run --pipelines <use_case>`` or every use
    case)."""
    kind = "pipeline"
    if len(pipeline_names) == 1 and pipeline_names[0].startswith(f"{use_case}_"):
        kind = pipeline_names[0].removeprefix(f"{use_case}_")
    tags = {tracking.TAG_USE_CASE: use_case, tracking.TAG_KIND: kind}
    training = block.get("training") if isinstance(block, Mapping) else None
    if isinstance(training, Mapping) and training.get("task"):
        tags[tracking.TAG_TASK_NAME] = str(training["task"])
    return tags


_OBJECT_REPR = re.compile(r"^<(?:.*\.)?(\w+) object at 0x[0-9a-fA-F]+>$")


def run_tags(run_params: Mapping[str, Any]) -> dict[str, str]:
    """Kedro's run parameters as tags, none naming this machine: the project's path is left
    out (every run of a clone has it), the runner is named by its class, not its repr, and a
    path inside the project is written relative to it."""
    tags = {}
    for key, value in run_params.items():
        if not value or key == "project_path":
            continue
        tags[key] = _OBJECT_REPR.sub(r"\1", str(tracking.portable(value)))
    if tags.get("runner") == "None":  # a session given no runner runs Kedro's default
        tags["runner"] = "SequentialRunner"
    return tags


def _kedro_command(run_params: Mapping[str, Any], pipeline_names: list[str]) -> str:
    return str(
        _generate_kedro_command(
            tags=run_params.get("tags"),
            node_names=run_params.get("node_names"),
            from_nodes=run_params.get("from_nodes"),
            to_nodes=run_params.get("to_nodes"),
            from_inputs=run_params.get("from_inputs"),
            load_versions=run_params.get("load_versions"),
            pipeline_names=pipeline_names,
        )
    )


def reviewable_params(inputs: Mapping[str, Any], use_case: str | None) -> dict[str, Any]:
    """The parameters among a node's inputs that its use case's run logs, one per key, named
    as in the use case's block (``training.holdout_days``, no use case prefix).

    Left out: what is not a scalar (lists are in ``parameters.json``), ``UNLOGGED_SECTIONS``,
    and another use case's parameters (the whole ``parameters`` input is cut to the node's use
    case). Paths inside the project are written relative to its root.
    """
    sections: dict[str, Any] = {}
    for name, value in inputs.items():
        if name == "parameters":
            block = to_plain(value).get(use_case) if isinstance(value, Mapping) else None
            sections.update(block if isinstance(block, Mapping) else {})
        elif name.startswith("params:"):
            key = name.removeprefix("params:")
            if use_case and key == use_case and isinstance(value, Mapping):
                sections.update(to_plain(value))
                continue
            sections[key.removeprefix(f"{use_case}.") if use_case else key] = to_plain(value)
    flat = _flatten_dict(sections, recursive=True, sep=".")
    return {
        key: tracking.portable(value)
        for key, value in flat.items()
        if not isinstance(value, list | tuple | set | dict)
        and not any(key == s or key.startswith(f"{s}.") for s in UNLOGGED_SECTIONS)
    }


class NodeTimingHook:
    """Each node's wall time as metric ``node_seconds.<node>`` of its use case's MLflow run.

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

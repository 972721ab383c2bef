"""A Kedro runner that runs a pipeline's nodes on a ``dask.distributed`` cluster.

``kedro run --runner modelworks.dask_runner.DaskRunner`` starts a ``LocalCluster`` (one
single-threaded worker process per core, ``MODELWORKS_DASK_WORKERS`` to change it) or joins the
scheduler named by ``MODELWORKS_DASK_SCHEDULER`` (``tcp://host:8786``) on a real cluster.

Only a node's function runs on a worker. Everything that holds state stays in the driver, the
``kedro run`` process: the catalog loads and saves every dataset there (a MemoryDataset's value
is gathered back and sent on to its consumers, so results are the sequential run's), and every
Kedro hook runs there, because the project's hooks (``modelworks.hooks``) keep the use cases'
MLflow runs and the nodes' start times in their instances. The driver sends each node the
MLflow run its hooks made active, the tracking and registry URIs and its environment; the
worker resumes that run for the node's duration and steps aside without ending it, so fluent
``mlflow.log_*`` calls and the candidate and fold runs (``registry.tracking._nested_run``) land
where they would in a sequential run. The driver ends the runs, as it always does.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import logging
import os
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cloudpickle
import mlflow
import numpy as np
import pandas as pd
from distributed import Client, Future, LocalCluster, wait
from kedro.framework.hooks.manager import _NullPluginManager
from kedro.runner import AbstractRunner
from mlflow.entities import RunStatus, RunTag
from more_itertools import interleave

from modelworks.compute import SCHEDULER_ENV
from modelworks.registry import tracking

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node
    from pluggy import PluginManager

WORKERS_ENV = "MODELWORKS_DASK_WORKERS"
TAG_DASHBOARD = "dask.dashboard"
TAG_SCHEDULER = "dask.scheduler"
_RUNNING = RunStatus.to_string(RunStatus.RUNNING)
_FINISHED = RunStatus.to_string(RunStatus.FINISHED)
# Variables that describe the driver's machine or process, not the run: a worker keeps its own.
# MLFLOW_RUN_ID would make the worker's next start_run resume it; the run travels explicitly.
_MACHINE_ENV = frozenset(
    {"PATH", "HOME", "PWD", "OLDPWD", "USER", "LOGNAME", "SHELL", "HOSTNAME", "TERM", "TMPDIR"}
    | {"TMP", "TEMP", "DISPLAY", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "MLFLOW_RUN_ID"}
)
_MACHINE_PREFIXES = ("SSH_", "XDG_", "LD_", "CONDA_", "DASK_", "LC_", "_")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NodeContext:
    """What a node finds in the driver's process and needs on a worker: the MLflow run its
    use case's hook made active, where MLflow stores runs, the environment, and the command
    name MLflow tags runs with (``kedro``, as in a sequential run)."""

    tracking_uri: str
    registry_uri: str
    run_id: str | None = None
    experiment_id: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    argv0: str = ""

    @classmethod
    def capture(cls) -> NodeContext:
        """The driver's context now, after the node's ``before_node_run`` hooks."""
        active = mlflow.active_run()
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in _MACHINE_ENV and not key.startswith(_MACHINE_PREFIXES)
        }
        return cls(
            tracking_uri=mlflow.get_tracking_uri(),
            registry_uri=mlflow.get_registry_uri(),
            run_id=active.info.run_id if active is not None else None,
            experiment_id=active.info.experiment_id if active is not None else None,
            env=env,
            argv0=sys.argv[0] if sys.argv else "",
        )

    @contextmanager
    def applied(self) -> Iterator[None]:
        """This context in the worker's process for one node, the process's own restored after
        (a worker outlives the run). Process-wide: one thread per worker keeps nodes apart."""
        saved_env = {key: os.environ.get(key) for key in self.env}
        saved_argv = list(sys.argv)
        os.environ.update(self.env)
        sys.argv[:1] = [self.argv0]
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.registry_uri)
        try:
            with tracking.nesting_under(self.run_id), _resumed(self.run_id, self.experiment_id):
                yield
        finally:
            sys.argv[:] = saved_argv
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@contextmanager
def _resumed(run_id: str | None, experiment_id: str | None) -> Iterator[None]:
    """The driver's run active in this thread while the node runs; then set aside, RUNNING,
    never ended: the driver's hook ends it with the pipeline."""
    if run_id is None:
        yield
        return
    # resuming checks the run against the process's experiment, which an earlier node on this
    # worker may have set to another use case's
    mlflow.set_experiment(experiment_id=experiment_id)
    mlflow.start_run(run_id=run_id, nested=mlflow.active_run() is not None)
    try:
        yield
    finally:
        while (active := mlflow.active_run()) is not None and active.info.run_id != run_id:
            mlflow.end_run(_FINISHED)  # a nested run the node left open
        if active is not None:
            mlflow.end_run(_RUNNING)


def run_node_on_worker(node: Node, inputs: dict[str, Any], context: NodeContext) -> dict[str, Any]:
    """The worker's task: run the node's function in the driver's context; its outputs go back
    to the driver, which saves them. A generator node's chunks travel as a list."""
    with context.applied():
        outputs = node.run(inputs)
        if inspect.isgeneratorfunction(node.func):
            outputs = {name: list(chunks) for name, chunks in outputs.items()}
        return outputs


@dataclass
class _Submitted:
    """A node sent to the cluster, with what its driver-side hooks need when it comes back."""

    node: Node
    inputs: dict[str, Any]
    context: NodeContext
    # the inputs' futures, held until the node is done: released earlier, the scheduler may
    # drop them before the node's task is registered ("lost dependencies")
    scattered: dict[str, Future] = field(default_factory=dict)


class DaskRunner(AbstractRunner):
    """Runs nodes in dependency order on a Dask cluster, independent nodes concurrently.

    ``client_args`` go to ``distributed.Client`` (``address`` joins a running scheduler, as
    ``MODELWORKS_DASK_SCHEDULER`` does); ``cluster_args`` override the ``LocalCluster``
    defaults. ``kedro run --runner`` passes neither, hence the environment variables. A client
    or cluster the runner made is closed when the run ends, whether it succeeds or fails.
    """

    def __init__(
        self,
        is_async: bool = False,
        client_args: Mapping[str, Any] | None = None,
        cluster_args: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(is_async=is_async)
        self._client_args = dict(client_args or {})
        self._cluster_args = dict(cluster_args or {})
        self._tagged: set[str] = set()
        self._dashboard_tags: dict[str, str] = {}

    def _get_executor(self, max_workers: int) -> None:
        """Unused: nodes go to the Dask client, not to a ``concurrent.futures`` executor."""
        return None

    def _run(
        self,
        pipeline: Pipeline,
        catalog: CatalogProtocol,
        hook_manager: PluginManager | None = None,
        run_id: str | None = None,
    ) -> None:
        hooks: Any = hook_manager or _NullPluginManager()
        client, cluster = self._connect()
        try:
            self._dashboard_tags = {
                TAG_DASHBOARD: str(client.dashboard_link or ""),
                TAG_SCHEDULER: str(client.scheduler.address if client.scheduler else ""),
            }
            self._logger.info("Dask dashboard: %s", self._dashboard_tags[TAG_DASHBOARD])
            self._tag_run(tracking.active_run_id())
            self._schedule(pipeline, catalog, hooks, run_id, client)
        finally:
            _close(client, cluster)

    def _connect(self) -> tuple[Client, LocalCluster | None]:
        """A client of the scheduler named in ``client_args`` or the environment, else of a new
        ``LocalCluster`` (returned too, for closing)."""
        args = dict(self._client_args)
        address = args.pop("address", None) or os.environ.get(SCHEDULER_ENV)
        if address:
            return Client(address, **args), None
        workers = int(os.environ.get(WORKERS_ENV) or os.cpu_count() or 1)
        cluster = LocalCluster(
            **{"processes": True, "n_workers": workers, "threads_per_worker": 1}
            | self._cluster_args
        )
        try:
            return Client(cluster, **args), cluster
        except Exception:
            cluster.close()
            raise

    def _schedule(
        self,
        pipeline: Pipeline,
        catalog: CatalogProtocol,
        hooks: Any,
        run_id: str | None,
        client: Client,
    ) -> None:
        """Submit every node whose dependencies are done, handle each as it finishes.

        A node with an input that cannot be pickled (a live Feast store, a connection) runs
        in the driver, as the sequential runner would run it, while the cluster works on.
        """
        load_counts = Counter(itertools.chain.from_iterable(n.inputs for n in pipeline.nodes))
        dependencies = pipeline.node_dependencies
        todo = list(pipeline.nodes)  # topological: ready nodes go out in a stable order
        done: set[Node] = set()
        running: dict[Future, _Submitted] = {}

        def finish(submitted: _Submitted, result: Callable[[], dict[str, Any]]) -> None:
            self._complete(submitted, result, catalog, hooks, run_id)
            done.add(submitted.node)
            self._logger.info("Completed node: %s", submitted.node.name)
            self._logger.info("Completed %d out of %d tasks", len(done), len(pipeline.nodes))
            self._release_datasets(submitted.node, catalog, load_counts, pipeline)

        try:
            while todo or running:
                ready = [node for node in todo if dependencies[node] <= done]
                todo = [node for node in todo if node not in ready]
                for node in ready:
                    submitted = self._prepare(node, catalog, hooks, run_id)
                    if _travels(submitted.inputs):
                        running[_submit(client, submitted)] = submitted
                    else:
                        self._logger.info("Running node in the driver: %s", node.name)
                        finish(submitted, functools.partial(node.run, submitted.inputs))
                if not running:
                    if todo and not ready:
                        raise RuntimeError(f"Unable to schedule nodes: {[n.name for n in todo]}")
                    continue
                finished, _ = wait(list(running), return_when="FIRST_COMPLETED")
                for future in finished:
                    finish(running.pop(future), future.result)
        except BaseException:
            # nodes already running finish before the error is raised: none is left logging to
            # a run the driver is about to end
            with suppress(Exception):
                wait(list(running))
            self._suggest_resume_scenario(pipeline, done, catalog)
            raise

    def _prepare(
        self, node: Node, catalog: CatalogProtocol, hooks: Any, run_id: str | None
    ) -> _Submitted:
        """Load the node's inputs and run its ``before_node_run`` hooks, in the driver."""
        inputs: dict[str, Any] = {}
        for name in node.inputs:
            hooks.hook.before_dataset_loaded(dataset_name=name, node=node)
            inputs[name] = catalog.load(name)
            hooks.hook.after_dataset_loaded(dataset_name=name, data=inputs[name], node=node)
        responses = hooks.hook.before_node_run(
            node=node, catalog=catalog, inputs=dict(inputs), is_async=False, run_id=run_id
        )
        for response in responses or ():
            if response is not None and not isinstance(response, dict):
                raise TypeError(
                    "'before_node_run' must return either None or a dictionary mapping dataset "
                    f"names to updated values, got '{type(response).__name__}' instead."
                )
            inputs.update(response or {})
        context = NodeContext.capture()
        self._tag_run(context.run_id)
        return _Submitted(node, inputs, context)

    def _complete(
        self,
        submitted: _Submitted,
        result: Callable[[], dict[str, Any]],
        catalog: CatalogProtocol,
        hooks: Any,
        run_id: str | None,
    ) -> None:
        """The node's ``after_node_run`` (or ``on_node_error``) hooks, then its outputs saved,
        in the driver, with the node's run active again for hooks that log to it."""
        node, inputs = submitted.node, submitted.inputs
        common = {"node": node, "catalog": catalog, "inputs": inputs, "is_async": False}
        common["run_id"] = run_id
        try:
            outputs = result()
        except Exception as error:
            _reactivate(submitted.context)
            hooks.hook.on_node_error(error=error, **common)
            raise
        _reactivate(submitted.context)
        hooks.hook.after_node_run(outputs=outputs, **common)
        items: Iterable[tuple[str, Any]] = outputs.items()
        if outputs and inspect.isgeneratorfunction(node.func):
            items = zip(itertools.cycle(outputs), interleave(*outputs.values()), strict=False)
        for name, data in items:
            hooks.hook.before_dataset_saved(dataset_name=name, data=data, node=node)
            catalog.save(name, data)
            hooks.hook.after_dataset_saved(dataset_name=name, data=data, node=node)
        for name in node.confirms:
            catalog.confirm(name)

    def _tag_run(self, run_id: str | None) -> None:
        """Tag a run of this kedro run with the cluster's dashboard and scheduler, once."""
        if run_id is None or run_id in self._tagged:
            return
        mlflow.MlflowClient().log_batch(
            run_id, tags=[RunTag(*t) for t in self._dashboard_tags.items()]
        )
        self._tagged.add(run_id)


def _travels(inputs: Mapping[str, Any]) -> bool:
    """Whether every input can be pickled to a worker. Frames and arrays always can; anything
    else is tried (parameters and fitted models are small next to the data)."""
    for value in inputs.values():
        if isinstance(value, pd.DataFrame | pd.Series | np.ndarray | str | int | float | bool):
            continue
        try:
            cloudpickle.dumps(value)
        except Exception:
            return False
    return True


def _submit(client: Client, submitted: _Submitted) -> Future:
    """Send a node to the cluster, its inputs scattered first (not embedded in the task), under
    a key that names the node on the dashboard."""
    if submitted.inputs:
        # a list, not the dict: a scattered dict's keys become the data's keys, which two nodes
        # reading the same dataset would share, and the first to finish would release
        names = list(submitted.inputs)
        futures = client.scatter([submitted.inputs[name] for name in names], hash=False)
        submitted.scattered = dict(zip(names, futures, strict=True))
    return client.submit(
        run_node_on_worker,
        submitted.node,
        submitted.scattered,
        submitted.context,
        key=f"{submitted.node.name}-{uuid.uuid4().hex}",
        pure=False,
    )


def _reactivate(context: NodeContext) -> None:
    """Make the node's run the driver's active one again, as it was when the node started.

    Another use case's node may have started since and activated its own run; the hooks that
    close a node (the node timing) log to the active run. The run set aside stays RUNNING.
    """
    active = mlflow.active_run()
    if context.run_id is None or active is None or active.info.run_id == context.run_id:
        return
    while mlflow.active_run() is not None:
        mlflow.end_run(_RUNNING)
    mlflow.set_experiment(experiment_id=context.experiment_id)
    mlflow.start_run(run_id=context.run_id)


def _close(client: Client, cluster: LocalCluster | None) -> None:
    """Close what the runner opened; a failure to close is logged, never raised over the
    node's error."""
    for closable in (client, cluster) if cluster is not None else (client,):
        try:
            closable.close()
        except Exception:  # pragma: no cover - depends on the cluster's state
            logger.warning("Could not close %r", closable, exc_info=True)

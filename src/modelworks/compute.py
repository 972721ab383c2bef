"""Where independent fits run: in this process, one after another (the default), or as tasks on
a Dask cluster (``training.compute.engine: dask``).

The lifecycle schedules fits through ``FitExecutor.submit`` and reads each result in the order
the sequential run would; locally a fit runs when its result is first read, so the default run
is exactly the sequential one (a pruned trial never fits its later folds). On Dask every
submitted fit starts at once; the results are read back in the same order, so metrics, runs and
pruning decisions are those of the sequential run (given the same threads per fit: LightGBM's
deterministic mode depends on the thread count, CatBoost's results do not).

The cluster is ``training.compute.scheduler`` (a ``tcp://host:8786`` address), else
``MODELWORKS_DASK_SCHEDULER``, else a ``LocalCluster`` of ``workers`` processes with one thread
each, started for the training step and closed after it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Generic, Literal, Protocol, TypeVar

from pydantic import Field

from modelworks.params import StrictModel

SCHEDULER_ENV = "MODELWORKS_DASK_SCHEDULER"
T = TypeVar("T")

_FIT_THREADS: ContextVar[int | None] = ContextVar("modelworks_fit_threads", default=None)


class ComputeParams(StrictModel):
    """How a use case's fits run: ``local`` (sequential, in process) or on ``dask``."""

    engine: Literal["local", "dask"] = "local"
    scheduler: str | None = None
    """A Dask scheduler's address; default ``$MODELWORKS_DASK_SCHEDULER``, else a LocalCluster."""
    workers: int = Field(default=2, ge=1)
    """Worker processes of the LocalCluster (one thread each)."""
    threads_per_fit: int | None = Field(default=None, ge=1)
    """Threads of each fit; default: every usable core locally, one on a Dask worker."""


class Result(Protocol[T]):  # type: ignore[misc]
    def result(self) -> T: ...


class Deferred(Generic[T]):
    """A fit that runs when its result is first asked for, in this process."""

    def __init__(self, fn: Callable[..., T], args: tuple[Any, ...], threads: int | None) -> None:
        self._fn, self._args, self._threads = fn, args, threads
        self._done = False
        self._value: T | None = None

    def result(self) -> T:
        if not self._done:
            with fit_threads(self._threads):
                self._value = self._fn(*self._args)
            self._done = True
        return self._value  # type: ignore[return-value]


class FitExecutor:
    """Schedules fits locally (deferred) or on a Dask client."""

    def __init__(self, client: Any = None, threads: int | None = None) -> None:
        self.client = client
        self.threads = threads

    def submit(self, fn: Callable[..., T], *args: Any) -> Result[T]:
        if self.client is None:
            return Deferred(fn, args, self.threads)
        return self.client.submit(_with_threads, fn, self.threads or 1, *args, pure=False)

    @property
    def dashboard(self) -> str | None:
        return None if self.client is None else str(self.client.dashboard_link)


@contextmanager
def executor(params: ComputeParams | None) -> Iterator[FitExecutor]:
    """The executor ``params`` ask for, its cluster closed on the way out."""
    if params is None or params.engine == "local":
        yield FitExecutor(threads=None if params is None else params.threads_per_fit)
        return
    from distributed import Client, LocalCluster

    address = params.scheduler or os.environ.get(SCHEDULER_ENV)
    threads = params.threads_per_fit or 1
    if address:
        with Client(address) as client:
            yield FitExecutor(client, threads)
        return
    with (
        LocalCluster(
            n_workers=params.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield FitExecutor(client, threads)


@contextmanager
def fit_threads(threads: int | None) -> Iterator[None]:
    """Fits in this block use ``threads`` threads (None: the adapter's default)."""
    token = _FIT_THREADS.set(threads)
    try:
        yield
    finally:
        _FIT_THREADS.reset(token)


def threads_for_fit(default: int) -> int:
    """The thread count a fit uses: the one ``fit_threads`` set, else ``default``."""
    chosen = _FIT_THREADS.get()
    return default if chosen is None else chosen


def _with_threads(fn: Callable[..., T], threads: int, *args: Any) -> T:
    with fit_threads(threads):
        return fn(*args)

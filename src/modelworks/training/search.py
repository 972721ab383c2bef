"""Hyperparameter search spaces as typed parameters, and the Optuna pieces they build.

A candidate's optional ``search`` block names the sampler, the budget, the pruner and the
space; ``modelworks.pipelines.search`` runs it inside the training lifecycle (one nested MLflow
run per trial, one per fold under it). Nothing here talks to MLflow. Optuna is imported only
when a search runs.

Studies live in a database so that several workers add trials to one study and a killed
search resumes where it stopped: ``search.storage`` when set, else ``MODELWORKS_OPTUNA_STORAGE``
(the production profile points it at PostgreSQL), else an SQLite file beside MLflow's,
``mlruns/optuna.db``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import warnings
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from modelworks.params import StrictModel
from modelworks.root import under_root

if TYPE_CHECKING:
    import optuna

STORAGE_ENV = "MODELWORKS_OPTUNA_STORAGE"
DEFAULT_STORAGE_FILE = "mlruns/optuna.db"


class IntRange(StrictModel):
    """Whole numbers from ``low`` to ``high`` (inclusive), every ``step``, or log-uniform."""

    type: Literal["int"]
    low: int
    high: int
    step: int = Field(default=1, ge=1)
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> IntRange:
        if self.low > self.high:
            raise ValueError(f"low {self.low} is above high {self.high}")
        if self.log and (self.low < 1 or self.step != 1):
            raise ValueError("a log-scale int range needs low >= 1 and step 1")
        return self

    def grid(self) -> list[Any]:
        return list(range(self.low, self.high + 1, self.step))


class FloatRange(StrictModel):
    """Real numbers from ``low`` to ``high``, uniform or log-uniform (``log: true``)."""

    type: Literal["float"]
    low: float
    high: float
    log: bool = False
    step: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> FloatRange:
        if self.low > self.high:
            raise ValueError(f"low {self.low} is above high {self.high}")
        if self.log and (self.low <= 0 or self.step is not None):
            raise ValueError("a log-scale float range needs low > 0 and no step")
        return self

    def grid(self) -> list[Any]:
        if self.step is None:
            raise ValueError("a grid over a float range needs its step")
        count = round((self.high - self.low) / self.step) + 1
        return [float(v) for v in np.round(self.low + self.step * np.arange(count), 12)]


class Choice(StrictModel):
    """One of ``choices``."""

    type: Literal["categorical"]
    choices: list[str | int | float | bool | None] = Field(min_length=1)

    def grid(self) -> list[Any]:
        return list(self.choices)


Dimension = Annotated[IntRange | FloatRange | Choice, Field(discriminator="type")]


class PrunerParams(StrictModel):
    """Stops a trial early on its fold-level intermediate values (the running mean of the
    selection metric after each fold): ``median`` (below the median of earlier trials at the
    same fold) or ``successive_halving``; ``none`` runs every fold of every trial."""

    type: Literal["median", "successive_halving", "none"] = "median"
    n_startup_trials: int = Field(default=5, ge=0)
    """Median: trials that always run every fold, before any is compared."""
    n_warmup_steps: int = Field(default=1, ge=0)
    """Median: folds of each trial before it may be pruned."""


class SearchParams(StrictModel):
    """A candidate's hyperparameter search: the best trial's parameters are refit and become
    the candidate the gate judges."""

    sampler: Literal["tpe", "random", "grid"] = "tpe"
    n_trials: int | None = Field(default=None, ge=1)
    """Trials the study should hold in all (a resumed study only adds the rest); for ``grid``
    the default is the whole grid, otherwise 20 when no ``timeout_s`` is set."""
    timeout_s: float | None = Field(default=None, gt=0)
    pruner: PrunerParams = PrunerParams()
    space: dict[str, Dimension] = Field(min_length=1)
    """Model parameters (keys of the candidate's ``params``) and the values they may take."""
    n_splits: int | None = Field(default=None, ge=2)
    """Folds each trial is cross-validated on, when fewer than the training's: the best
    trial's parameters are then cross-validated on the training's folds, so the candidate is
    compared with the others on the same folds."""
    storage: str | None = None
    """An SQLAlchemy URL for the study; default: ``$MODELWORKS_OPTUNA_STORAGE``, else
    ``sqlite:///mlruns/optuna.db`` in the project."""

    @model_validator(mode="after")
    def _grid_is_enumerable(self) -> SearchParams:
        if self.sampler == "grid":
            for name, dimension in self.space.items():
                if isinstance(dimension, FloatRange) and dimension.step is None:
                    raise ValueError(f"space.{name}: a grid search needs a step on float ranges")
        return self

    def grid(self) -> dict[str, list[Any]]:
        """Every value of every dimension, as Optuna's grid sampler takes them."""
        return {name: dimension.grid() for name, dimension in self.space.items()}

    def trials(self) -> int | None:
        """How many trials the study should hold; None: as many as ``timeout_s`` allows."""
        if self.n_trials is not None:
            return self.n_trials
        if self.sampler == "grid":
            return len(list(itertools.product(*self.grid().values())))
        return None if self.timeout_s is not None else 20


def suggest(trial: optuna.Trial, space: dict[str, Any]) -> dict[str, Any]:
    """One value per dimension of ``space`` for ``trial``."""
    values: dict[str, Any] = {}
    for name, dimension in space.items():
        if isinstance(dimension, IntRange):
            values[name] = trial.suggest_int(
                name, dimension.low, dimension.high, step=dimension.step, log=dimension.log
            )
        elif isinstance(dimension, FloatRange):
            values[name] = trial.suggest_float(
                name, dimension.low, dimension.high, step=dimension.step, log=dimension.log
            )
        else:
            values[name] = trial.suggest_categorical(name, dimension.choices)
    return values


def sampler(search: SearchParams, seed: int) -> optuna.samplers.BaseSampler:
    """The seeded sampler ``search`` names."""
    import optuna

    if search.sampler == "grid":
        return optuna.samplers.GridSampler(search.grid(), seed=seed)
    if search.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():
        # multivariate TPE models the parameters jointly (num_leaves and min_child_samples
        # interact); Optuna still calls it experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=min(5, search.trials() or 5), multivariate=True
        )


def pruner(params: PrunerParams) -> optuna.pruners.BasePruner:
    """The pruner ``params`` names; a fold is one step."""
    import optuna

    if params.type == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=params.n_startup_trials, n_warmup_steps=params.n_warmup_steps
        )
    if params.type == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
    return optuna.pruners.NopPruner()


def storage_url(search: SearchParams) -> str:
    """Where the study lives (see the module docstring)."""
    if search.storage:
        return search.storage
    from_env = os.environ.get(STORAGE_ENV)
    if from_env:
        return from_env
    path = under_root(DEFAULT_STORAGE_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def study_name(prefix: str, candidate: str, fingerprint: dict[str, Any]) -> str:
    """``<prefix>.<candidate>.<digest>``: the same search on the same rows and folds resumes
    the same study; other rows, folds, fixed parameters or space start a new one."""
    digest = hashlib.sha256(
        json.dumps(fingerprint, sort_keys=True, default=str).encode()
    ).hexdigest()[:12]
    return f"{prefix}.{candidate}.{digest}" if prefix else f"{candidate}.{digest}"

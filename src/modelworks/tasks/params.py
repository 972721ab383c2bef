"""The training parameters of a tabular use case, typed once for every supervised family."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from modelworks.compute import ComputeParams
from modelworks.params import StrictModel
from modelworks.registry.challengers import ShadowPolicy
from modelworks.registry.gate import GatePolicy
from modelworks.training import CandidateParams, FeatureSpec

TaskName = Literal[
    "binary_classification", "multiclass_classification", "regression", "uplift", "ranking"
]
SUPERVISED = ("binary_classification", "multiclass_classification", "regression")


class Recency(StrictModel):
    """How much the newest training rows count against older ones."""

    half_life_days: float | None = Field(default=None, gt=0)
    """A row's weight halves for every ``half_life_days`` it is older than the newest row."""
    window_days: int | None = Field(default=None, gt=0)
    """Only rows from the last ``window_days`` before the newest row are trained on."""

    @model_validator(mode="after")
    def _says_something(self) -> Recency:
        if self.half_life_days is None and self.window_days is None:
            raise ValueError("recency needs half_life_days, window_days or both")
        return self


class DriftRetraining(StrictModel):
    """What changes when the retrain decision was driven by drift: the population moved, so
    the newest rows say most about the one the model will score."""

    recency: Recency | None = None
    refit_with_holdout: bool = False
    """After the gate, refit the chosen candidate (same rounds) on the holdout rows too and put
    the refit in its place: the holdout is the newest labelled data."""


class TrainingParams(StrictModel):
    """How candidates of a binary, multiclass or regression use case are trained and compared.

    ``early_stopping_fraction`` of each fold's fitting rows (and of the refit's rows when
    the task asks for it) is what early stopping watches, so the fold a candidate is scored on
    never chose its number of rounds. ``class_weight`` ("balanced", or a weight per class
    label, e.g. ``{"1": 5.0}`` for a rare positive class) weights training rows by their label.
    """

    task: TaskName = "binary_classification"
    label: str
    time_column: str
    features: FeatureSpec
    holdout_days: int
    n_splits: int = Field(default=5, ge=2)
    seed: int = 42
    selection_metric: str | None = None
    early_stopping_fraction: float = Field(default=0.2, gt=0.0, le=0.5)
    class_weight: Literal["balanced"] | dict[str, float] | None = None
    candidates: dict[str, CandidateParams]
    compute: ComputeParams = ComputeParams()
    """Where the fold fits run: in process (default) or on a Dask cluster."""
    recency: Recency | None = None
    """Recency weighting or window for every training (None: every row counts the same)."""
    on_drift: DriftRetraining | None = None
    """Training changes for a retrain the drift trigger asked for."""

    @model_validator(mode="after")
    def _fits_the_task(self) -> TrainingParams:
        from modelworks.tasks import get_task

        if self.task not in SUPERVISED:
            raise ValueError(
                f"task {self.task!r} has its own training parameters; these are for "
                f"{list(SUPERVISED)}"
            )
        task = get_task(self.task)
        if self.selection_metric is not None:
            task.higher_is_better(self.selection_metric)
        if self.class_weight is not None and self.task == "regression":
            raise ValueError("class_weight is for classification; a regression has no classes")
        if self.class_weight is not None and not isinstance(self.class_weight, str):
            bad = {k: v for k, v in self.class_weight.items() if not v > 0}
            if bad:
                raise ValueError(f"class weights must be positive; got {bad}")
        return self

    @property
    def metric(self) -> str:
        """The selection metric, the task's default when none is set."""
        from modelworks.tasks import get_task

        return self.selection_metric or get_task(self.task).default_selection_metric


class RegistryParams(StrictModel):
    """Where the winner is registered and the gate it must pass to become champion."""

    model_name: str
    description: str = ""
    gate: GatePolicy = GatePolicy()
    shadow: ShadowPolicy = ShadowPolicy()
    """Challengers the gate rejected on waivable checks, scored beside the champion and
    promoted on live evidence (off unless ``max_challengers`` > 0)."""

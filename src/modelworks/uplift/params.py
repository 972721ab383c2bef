"""The typed parameters of an uplift use case's training and scoring blocks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from modelworks.params import StrictModel
from modelworks.serving.batch import ScoringParams
from modelworks.training import FeatureSpec
from modelworks.uplift.learners import UpliftCandidateParams

UpliftMetric = Literal[
    "qini_coefficient", "qini_area", "uplift_at_10", "uplift_at_30", "uplift_at_50"
]
"""The metrics a candidate is selected and gated by (higher is better for each)."""


class ExplanationParams(StrictModel):
    """The tree that turns predicted uplift into readable persuadable segments."""

    max_depth: int = Field(default=3, ge=1, le=6)
    min_segment_share: float = Field(default=0.05, gt=0.0, lt=0.5)


class UpliftTrainingParams(StrictModel):
    """What the experiment recorded, and how uplift candidates are trained and compared.

    ``early_stopping_fraction`` of each fold's fitting rows (stratified on treatment x
    outcome) is what early stopping watches, so the fold a candidate is scored on never chose
    its number of rounds. ``treatment_cost`` prices one treatment in the profit metrics and
    the revenue chart.
    """

    task: Literal["uplift"] = "uplift"
    treatment: str  # 0/1, assigned at random
    outcome: str  # 0/1, the outcome the treatment should move
    value: str  # what each row realised (e.g. the amount repaid), for the revenue metrics
    value_at_stake: str  # what a positive outcome is worth per row: revenue uplift = uplift x it
    treatment_cost: float = Field(ge=0.0)
    time_column: str
    features: FeatureSpec
    holdout_days: int = Field(gt=0)
    n_splits: int = Field(default=5, ge=2)
    seed: int = 42
    selection_metric: UpliftMetric = "qini_coefficient"
    early_stopping_fraction: float = Field(default=0.2, gt=0.0, le=0.5)
    candidates: dict[str, UpliftCandidateParams]
    explanation: ExplanationParams = ExplanationParams()

    @model_validator(mode="after")
    def _experiment_columns_are_not_features(self) -> UpliftTrainingParams:
        leaking = [
            c for c in (self.treatment, self.outcome, self.value) if c in self.features.columns
        ]
        if leaking:
            raise ValueError(
                f"{leaking} describe the experiment's treatment or result and cannot be features"
            )
        return self

    @property
    def metric(self) -> str:
        """The selection metric."""
        return self.selection_metric

    @property
    def label(self) -> str:
        """The outcome column: what a monitored batch is labelled with once outcomes arrive."""
        return self.outcome


class UpliftScoringParams(ScoringParams):
    """How rows of a scored batch and its treatment list are identified.

    ``key`` is one row's identity (its holdout draw is a hash of it); it is always among the
    ``id_columns`` copied from the scored rows.
    """

    key: str

    @model_validator(mode="before")
    @classmethod
    def _key_is_an_id_column(cls, data: Any) -> Any:
        if isinstance(data, dict) and "key" in data:
            ids = list(data.get("id_columns", []))
            data = {**data, "id_columns": list(dict.fromkeys([data["key"], *ids]))}
        return data

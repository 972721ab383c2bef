"""Parameters of recommenders, typed so that a misspelt YAML key fails at start-up: the hybrid
model's hyperparameters, and how the recommender pipelines train, judge and monitor it.

Kept apart from the model and trainer modules so that validating parameters never imports torch.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from modelworks.monitoring.params import DriftParams
from modelworks.params import StrictModel
from modelworks.training.features import FeatureSpec
from modelworks.training.search import SearchParams


class RecommenderParams(StrictModel):
    """Architecture, negative sampling, optimiser and early stopping of the hybrid recommender."""

    embedding_dim: int = Field(default=32, gt=0)  # id embeddings of users and items
    hidden_dims: tuple[int, ...] = (128,)  # hidden layers of each tower
    output_dim: int = Field(default=32, gt=0)  # the space where users meet items
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)  # id dropout below regularises enough
    # Share of training rows scored as an unknown user / item: trains the unknown embedding
    # row and makes the content path carry signal, which is all a cold-start row has.
    user_id_dropout: float = Field(default=0.2, ge=0.0, lt=1.0)
    item_id_dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    negatives: int = Field(default=4, gt=0)  # sampled per positive, uniformly from the items
    batch_size: int = Field(default=1024, gt=0)
    learning_rate: float = Field(default=3e-3, gt=0.0)
    weight_decay: float = Field(default=1e-5, ge=0.0)
    max_epochs: int = Field(default=30, gt=0)
    patience: int = Field(default=3, gt=0)  # epochs without a better validation NDCG@10
    # The latest days of the training interactions are held out for early stopping (0: train
    # max_epochs without validation); refit then retrains on everything for the best epochs.
    validation_days: int = Field(default=7, ge=0)
    refit: bool = True
    mixed_precision: bool = True  # autocast on CUDA; the CPU always trains in float32
    seed: int = 42
    search: SearchParams | None = None
    """A hyperparameter search over some of the fields above (``modelworks.training.search``)."""

    @model_validator(mode="after")
    def _searches_its_own_fields(self) -> RecommenderParams:
        if self.search is not None:
            unknown = set(self.search.space) - set(self.params)
            if unknown:
                raise ValueError(f"search.space names {sorted(unknown)}: not recommender fields")
        return self

    @property
    def adapter(self) -> str:
        """The library a candidate of this kind trains with (tagged on its run and version)."""
        return "torch"

    @property
    def params(self) -> dict[str, Any]:
        """The hyperparameters a candidate's run logs: all but what the lifecycle decides."""
        return self.model_dump(mode="json", exclude=set(LIFECYCLE_FIELDS))


# Decided once for every candidate by the ``ranking`` lifecycle: the validation period before
# the holdout, and the refit on every training interaction for the epochs it chose.
LIFECYCLE_FIELDS = ("validation_days", "refit", "search")


class EntitySide(StrictModel):
    """One side of a recommender, its users or its items: key, appearance, Feast features."""

    key: str  # join key in the raw tables and in Feast
    available_from: str  # column of the entity table: when an entity appears (sign-up, listing)
    service: str  # Feast feature service of this side's features, all keyed by ``key``


class UserSide(EntitySide):
    """The users' side, with what the model must know about their own history."""

    # Views computed from the user's own interactions: a cold-start user has none of them.
    history_views: list[str] = []
    # A list feature of items never to recommend again (the hotels a user already booked).
    exclude_feature: str | None = None


class BaselineParams(StrictModel):
    """The baselines the learned model must beat, trained on the same interactions."""

    popularity_window_days: int = Field(default=30, gt=0)
    content_features: list[str]  # item attributes the content baseline compares with tastes


class RecommenderTrainingParams(StrictModel):
    """How recommenders are trained, compared and judged on the latest period (task ``ranking``).

    The latest ``holdout_days`` are judged and never trained on; the ``validation_days`` before
    them decide early stopping and, by ``selection_metric`` (NDCG@10 unless set), the winner.
    """

    task: Literal["ranking"] = "ranking"
    time_column: str  # when an interaction happened
    request_time_column: str  # when the user asked (a search): features are as of then
    event_column: str
    positive_events: list[str]  # what the models learn from (clicks, bookings)
    relevant_events: list[str]  # what the holdout judges (bookings)
    holdout_days: int = Field(gt=0)  # the latest period: judged, never trained on
    validation_days: int = Field(gt=0)  # before the holdout: early stopping and selection
    users: UserSide
    items: EntitySide
    candidates: dict[str, RecommenderParams]
    baselines: BaselineParams
    selection_metric: str | None = None  # a ranking metric, e.g. ndcg_at_10_cold
    torch_threads: int | None = Field(default=1, gt=0)  # None: torch's default (all cores)

    @model_validator(mode="after")
    def _one_validation_period(self) -> RecommenderTrainingParams:
        # The pipeline retrieves the features known at the validation start once, for every
        # candidate: a candidate of its own period would be validated on the wrong features.
        for field in LIFECYCLE_FIELDS:
            own = [n for n, c in self.candidates.items() if field in c.model_fields_set]
            if own:
                raise ValueError(
                    f"candidates {own} set {field}: the ranking lifecycle decides it for every "
                    "candidate (set validation_days once, as training.validation_days)"
                )
        if not self.candidates:
            raise ValueError("training.candidates is empty: declare at least one model")
        if self.selection_metric is not None:
            from modelworks.tasks import get_task

            get_task(self.task).higher_is_better(self.selection_metric)
        return self

    @property
    def metric(self) -> str:
        """The selection metric, NDCG@10 when none is set."""
        from modelworks.tasks import get_task

        return self.selection_metric or get_task(self.task).default_selection_metric

    @property
    def n_splits(self) -> int:
        """Folds of a candidate's validation: one, the ``validation_days`` before the holdout."""
        return 1

    @property
    def seed(self) -> None:
        """No seed of the run's own: each candidate trains with its own (``seed`` of it)."""
        return None


class RecommenderMonitoringParams(StrictModel):
    """Which features are watched for drift, and how item popularity is compared."""

    user_features: FeatureSpec  # at each request: what the served model reads
    item_features: FeatureSpec  # of the catalogue
    window_days: int = Field(default=7, gt=0)  # reference window before the cutoff
    popularity_bins: int = Field(default=10, ge=2)  # items grouped by reference popularity
    drift: DriftParams = DriftParams()

"""Meta-learners: uplift models built from any registered classifier adapter.

- **S-learner**: one classifier on the features plus the treatment flag; uplift is its
  prediction with the flag at 1 minus the prediction with the flag at 0. Cheap and stable, but
  a tree model may barely split on the flag and then shrinks every uplift towards zero.
- **T-learner**: one classifier per arm (control, treated); uplift is the difference of their
  predictions. It finds effects the S-learner smooths away, at the price of the noise of two
  models.

Both early-stop each classifier on the log-loss of its own validation rows (an uplift metric
cannot drive a single classifier's boosting), or train a fixed number of rounds. A fitted model
saves each classifier in its library's native format (via the adapter) in a sub-folder, plus
``UPLIFT_METADATA_FILE`` saying how to put them back together.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from modelworks.training.adapters import (
    CandidateParams,
    FittedModel,
    get_adapter,
    load_fitted,
)
from modelworks.training.adapters.base import binary_labels
from modelworks.training.features import FeatureSpec

Learner = Literal["s_learner", "t_learner"]
LEARNERS: tuple[Learner, ...] = ("s_learner", "t_learner")
TREATMENT_FEATURE = "treatment"
"""The S-learner's extra input column: the treatment flag, 0 or 1."""
CONTROL, TREATED, OUTCOME_MODEL = "control", "treated", "outcome"
UPLIFT_METADATA_FILE = "modelworks_uplift.json"
_FORMAT_VERSION = 1


class UpliftCandidateParams(CandidateParams):
    """An uplift candidate: a meta-learner over one adapter's classifiers and their parameters."""

    learner: Learner


@dataclass(frozen=True)
class UpliftData:
    """Feature rows with their randomised treatment (0/1) and binary outcome (0/1)."""

    X: pd.DataFrame
    treatment: np.ndarray
    outcome: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.X)
        # Frozen, so the checked 0/1 arrays are set through object.__setattr__.
        for name in ("treatment", "outcome"):
            object.__setattr__(self, name, binary_labels(getattr(self, name), n_rows=n, name=name))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, treatment: str, outcome: str) -> UpliftData:
        """Split a frame holding features, the treatment column and the outcome column."""
        missing = [c for c in (treatment, outcome) if c not in frame.columns]
        if missing:
            raise ValueError(f"frame lacks columns {missing}; columns: {list(frame.columns)}")
        return cls(frame, frame[treatment].to_numpy(), frame[outcome].to_numpy())

    def __len__(self) -> int:
        return len(self.X)

    def take(self, rows: np.ndarray) -> UpliftData:
        """The rows at the given positions (indices or a boolean mask)."""
        return UpliftData(self.X.iloc[rows], self.treatment[rows], self.outcome[rows])

    def arm(self, treated: bool) -> UpliftData:
        """The treated (``True``) or control rows."""
        return self.take(self.treatment == int(treated))


@runtime_checkable
class UpliftModel(Protocol):
    """A fitted meta-learner: per-arm outcome probabilities and their difference, the uplift."""

    learner: str
    features: FeatureSpec
    models: dict[str, FittedModel]
    """The classifiers: ``outcome`` for the S-learner, ``control``/``treated`` for the T-learner."""

    @property
    def adapter(self) -> str:
        """The adapter that trained the classifiers."""
        ...

    @property
    def best_iterations(self) -> dict[str, int]:
        """Boosting rounds each classifier kept, by classifier name."""
        ...

    def predict_arms(self, X: pd.DataFrame) -> pd.DataFrame:
        """Outcome probability if not treated (``control``) and if treated (``treated``)."""
        ...

    def predict_uplift(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted uplift: treated minus control outcome probability, one per row."""
        ...

    def feature_importance(self) -> pd.Series:
        """Importance per input column, summing to 1, from the classifiers' own importances."""
        ...

    def save(self, directory: Path) -> None:
        """Each classifier natively in a sub-folder plus ``UPLIFT_METADATA_FILE``."""
        ...


class _MetaLearnerModel(ABC):
    """What both meta-learners share: rounds, uplift from the arms, saving."""

    learner: str

    def __init__(self, models: dict[str, FittedModel], *, features: FeatureSpec) -> None:
        self.models = models
        self.features = features

    @property
    def adapter(self) -> str:
        """The adapter that trained the classifiers."""
        return next(iter(self.models.values())).adapter

    @property
    def best_iterations(self) -> dict[str, int]:
        """Boosting rounds each classifier kept, by classifier name."""
        return {name: model.best_iteration for name, model in self.models.items()}

    @abstractmethod
    def predict_arms(self, X: pd.DataFrame) -> pd.DataFrame:
        """Outcome probability if not treated (``control``) and if treated (``treated``)."""

    @abstractmethod
    def feature_importance(self) -> pd.Series:
        """Importance per input column, summing to 1."""

    def predict_uplift(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted uplift: treated minus control outcome probability, one per row."""
        arms = self.predict_arms(X)
        return (arms[TREATED] - arms[CONTROL]).to_numpy(dtype=float)

    def save(self, directory: Path) -> None:
        """Each classifier natively in a sub-folder plus ``UPLIFT_METADATA_FILE``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, model in self.models.items():
            model.save(directory / name)
        metadata = {
            "format_version": _FORMAT_VERSION,
            "learner": self.learner,
            "adapter": self.adapter,
            "features": self.features.model_dump(),
            "models": sorted(self.models),
            "best_iterations": self.best_iterations,
        }
        (directory / UPLIFT_METADATA_FILE).write_text(
            json.dumps(metadata, indent=2, sort_keys=True) + "\n"
        )


class SLearnerModel(_MetaLearnerModel):
    """One classifier with the treatment flag as an input."""

    learner = "s_learner"

    def predict_arms(self, X: pd.DataFrame) -> pd.DataFrame:
        """The classifier's prediction with the flag set to 0 and to 1."""
        rows = self.features.select(X)
        model = self.models[OUTCOME_MODEL]
        return pd.DataFrame(
            {
                CONTROL: model.predict_proba(rows.assign(**{TREATMENT_FEATURE: 0.0})),
                TREATED: model.predict_proba(rows.assign(**{TREATMENT_FEATURE: 1.0})),
            },
            index=X.index,
        )

    def feature_importance(self) -> pd.Series:
        """The classifier's importances, the treatment flag included (near 0: little uplift)."""
        return self.models[OUTCOME_MODEL].feature_importance()


class TLearnerModel(_MetaLearnerModel):
    """One classifier per arm."""

    learner = "t_learner"

    def predict_arms(self, X: pd.DataFrame) -> pd.DataFrame:
        """Each arm's classifier on the same rows."""
        return pd.DataFrame(
            {arm: self.models[arm].predict_proba(X) for arm in (CONTROL, TREATED)}, index=X.index
        )

    def feature_importance(self) -> pd.Series:
        """The mean of the two classifiers' importances (each sums to 1, so the mean does too)."""
        control = self.models[CONTROL].feature_importance()
        treated = self.models[TREATED].feature_importance()
        return ((control + treated) / 2).rename("importance")


def _rounds(n_rounds: int | Mapping[str, int] | None, name: str) -> int | None:
    """The fixed round count for one classifier, from one number or one per classifier."""
    if n_rounds is None or isinstance(n_rounds, int):
        return n_rounds
    if name not in n_rounds:
        raise ValueError(f"n_rounds has no entry for the {name!r} model; got {sorted(n_rounds)}")
    return int(n_rounds[name])


def _with_flag(data: UpliftData, features: FeatureSpec) -> pd.DataFrame:
    return features.select(data.X).assign(**{TREATMENT_FEATURE: data.treatment.astype(float)})


@dataclass(frozen=True)
class _Fitter:
    """Fits a learner's classifiers, each with ``candidate``'s adapter, parameters and ``seed``."""

    candidate: CandidateParams
    seed: int
    n_rounds: int | Mapping[str, int] | None

    def fit(
        self,
        name: str,
        rows: tuple[pd.DataFrame, np.ndarray],
        held: tuple[pd.DataFrame, np.ndarray] | None,
        features: FeatureSpec,
    ) -> FittedModel:
        """The classifier ``name`` on ``rows`` (X, outcome); early-stopped on ``held`` if any."""
        return get_adapter(self.candidate.adapter).fit(
            *rows,
            features=features,
            candidate=self.candidate,
            seed=self.seed,
            X_valid=None if held is None else held[0],
            y_valid=None if held is None else held[1],
            n_rounds=_rounds(self.n_rounds, name),
        )


def _fit_s_learner(
    train: UpliftData, valid: UpliftData | None, features: FeatureSpec, fitter: _Fitter
) -> SLearnerModel:
    if TREATMENT_FEATURE in features.columns:
        raise ValueError(
            f"the S-learner adds its own {TREATMENT_FEATURE!r} input; remove {TREATMENT_FEATURE!r} "
            "from the feature list (the treatment is passed separately)"
        )
    inner = FeatureSpec(
        numeric=[*features.numeric, TREATMENT_FEATURE], categorical=features.categorical
    )
    held = None if valid is None else (_with_flag(valid, features), valid.outcome)
    model = fitter.fit(OUTCOME_MODEL, (_with_flag(train, features), train.outcome), held, inner)
    return SLearnerModel({OUTCOME_MODEL: model}, features=features)


def _fit_t_learner(
    train: UpliftData, valid: UpliftData | None, features: FeatureSpec, fitter: _Fitter
) -> TLearnerModel:
    models: dict[str, FittedModel] = {}
    for name, treated in ((CONTROL, False), (TREATED, True)):
        rows = train.arm(treated)
        counts = np.bincount(rows.outcome, minlength=2)
        if counts.min() == 0:
            raise ValueError(
                f"the T-learner's {name} model needs both outcomes among the {name} rows; "
                f"got {counts[0]} zeros and {counts[1]} ones"
            )
        held = None if valid is None else valid.arm(treated)
        models[name] = fitter.fit(
            name,
            (rows.X, rows.outcome),
            None if held is None else (held.X, held.outcome),
            features,
        )
    return TLearnerModel(models, features=features)


def fit_uplift_model(
    train: UpliftData,
    *,
    features: FeatureSpec,
    candidate: UpliftCandidateParams,
    seed: int,
    valid: UpliftData | None = None,
    n_rounds: int | Mapping[str, int] | None = None,
) -> UpliftModel:
    """Fit ``candidate.learner`` (S or T) with ``candidate``'s adapter and parameters.

    With ``valid`` each classifier early-stops on its validation rows within
    ``candidate.max_rounds``; without it, pass ``n_rounds``: one count for every classifier or
    one per classifier name (``best_iterations`` of a cross-validated model has that form).
    """
    for name, data in (("train", train), ("valid", valid)):
        if data is not None and data.treatment.min() == data.treatment.max():
            raise ValueError(f"the {name} rows must hold both treated and control rows")
    fit = {"s_learner": _fit_s_learner, "t_learner": _fit_t_learner}[candidate.learner]
    return fit(train, valid, features, _Fitter(candidate, seed, n_rounds))


def load_uplift_model(directory: Path) -> UpliftModel:
    """Read back what ``UpliftModel.save`` wrote."""
    directory = Path(directory)
    path = directory / UPLIFT_METADATA_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"no saved uplift model in {directory}: {UPLIFT_METADATA_FILE} missing"
        )
    metadata: dict[str, Any] = json.loads(path.read_text())
    if metadata.get("format_version") != _FORMAT_VERSION:
        raise ValueError(
            f"{path} has format_version {metadata.get('format_version')!r}; "
            f"this modelworks reads version {_FORMAT_VERSION}"
        )
    models = {name: load_fitted(directory / name) for name in metadata["models"]}
    features = FeatureSpec.model_validate(metadata["features"])
    model_class = {"s_learner": SLearnerModel, "t_learner": TLearnerModel}[metadata["learner"]]
    return model_class(models, features=features)

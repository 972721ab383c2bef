"""The contract every model library is wrapped in, and the registry that finds a wrapper by name.

Callers (CV, refit, serving) only speak ``ModelAdapter`` and ``FittedModel``; adding a library
means writing one adapter and registering it, never touching a caller.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, get_args, runtime_checkable

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from modelworks.params import StrictModel
from modelworks.training.adapters.labels import (
    Objective,
    binary_labels,
    check_sample_weight,
    class_codes,
    objective_labels,
    regression_targets,
)
from modelworks.training.features import FeatureSpec

__all__ = [
    "METADATA_FILE",
    "OBJECTIVES",
    "CandidateParams",
    "FitData",
    "FittedModel",
    "ModelAdapter",
    "Objective",
    "binary_labels",
    "check_objective",
    "check_sample_weight",
    "class_codes",
    "get_adapter",
    "load_fitted",
    "normalised_importance",
    "objective_labels",
    "objective_metadata",
    "prepare_fit",
    "probabilities",
    "read_metadata",
    "register_adapter",
    "registered_adapters",
    "regression_targets",
    "saved_objective",
    "write_metadata",
]

METADATA_FILE = "modelworks_model.json"
"""Written next to the native model file; says which adapter reads the directory back."""

OBJECTIVES: tuple[Objective, ...] = get_args(Objective)

_REGISTRY: dict[str, ModelAdapter] = {}


class CandidateParams(StrictModel):
    """One model candidate: which library, its parameters, and the boosting budget."""

    adapter: str
    params: dict[str, Any] = {}
    max_rounds: int = Field(default=2000, ge=1)
    early_stopping_rounds: int = Field(default=50, ge=1)

    @field_validator("adapter")
    @classmethod
    def _adapter_is_registered(cls, name: str) -> str:
        get_adapter(name)
        return name

    @model_validator(mode="after")
    def _params_leave_managed_keys_alone(self) -> CandidateParams:
        managed = sorted(set(self.params) & get_adapter(self.adapter).reserved_params)
        if managed:
            raise ValueError(
                f"params {managed} are set by the {self.adapter} adapter itself "
                "(seed, rounds, objective, early stopping, categorical columns, logging); "
                "use max_rounds / early_stopping_rounds / FeatureSpec and the seed argument instead"
            )
        return self


@runtime_checkable
class FittedModel(Protocol):
    """A trained model that scores frames, explains itself and saves in its library's format."""

    adapter: str
    features: FeatureSpec
    objective: Objective
    n_classes: int | None
    """Classes the probabilities cover: 2 for binary, k for multiclass, None for regression."""
    best_iteration: int
    """Boosting rounds the model keeps and predicts with (a count, not a 0-based index)."""
    params: dict[str, Any]
    """The parameters actually passed to the library, for logging next to the model."""

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """binary: 1-D P(class 1); multiclass: (n_rows, n_classes) probabilities; regression:
        1-D predicted values. Extra columns ignored, any column order."""
        ...

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """binary: 1-D probability of class 1; multiclass: (n_rows, n_classes); regression:
        TypeError (no probabilities, use ``predict``)."""
        ...

    def feature_importance(self) -> pd.Series:
        """Importance per feature name, summing to 1 (all zeros if the model never split)."""
        ...

    def save(self, directory: Path) -> None:
        """Native model file plus ``METADATA_FILE`` (features, objective, adapter name, ...)."""
        ...


@runtime_checkable
class ModelAdapter(Protocol):
    """Trains and loads one library's models (binary, multiclass or regression)."""

    name: str
    reserved_params: frozenset[str]
    """Library parameter names the adapter sets itself; a candidate may not override them."""

    def fit(
        self,
        X_train: pd.DataFrame,
        y_train: Any,
        *,
        features: FeatureSpec,
        candidate: CandidateParams,
        seed: int,
        objective: Objective = "binary",
        n_classes: int | None = None,
        sample_weight: np.ndarray | None = None,
        X_valid: pd.DataFrame | None = None,
        y_valid: Any | None = None,
        n_rounds: int | None = None,
    ) -> FittedModel:
        """Early-stop on (X_valid, y_valid) within max_rounds, or without them train n_rounds.

        Labels: binary 0/1; multiclass int codes 0..n_classes-1 (n_classes required);
        regression finite floats. ``sample_weight`` weighs the training rows only.
        """
        ...

    def load(self, directory: Path) -> FittedModel:
        """Read back what ``FittedModel.save`` wrote."""
        ...


def register_adapter(adapter: ModelAdapter, *, replace: bool = False) -> None:
    """Make ``adapter`` available under ``adapter.name`` to CandidateParams and load_fitted."""
    if adapter.name in _REGISTRY and not replace:
        raise ValueError(
            f"a model adapter named {adapter.name!r} is already registered; pass replace=True"
        )
    _REGISTRY[adapter.name] = adapter


def get_adapter(name: str) -> ModelAdapter:
    """The registered adapter called ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown model adapter {name!r}; known adapters: {sorted(_REGISTRY)}"
        ) from None


def registered_adapters() -> list[str]:
    """Names of all registered adapters, sorted."""
    return sorted(_REGISTRY)


def load_fitted(directory: Path) -> FittedModel:
    """Load a model saved by any registered adapter; the metadata file says which one."""
    return get_adapter(str(read_metadata(directory)["adapter"])).load(Path(directory))


# --- helpers shared by the adapters --------------------------------------------------------


@dataclass(frozen=True)
class FitData:
    """Training inputs after validation: features selected, labels checked for the objective."""

    X_train: pd.DataFrame
    y_train: np.ndarray
    """binary / multiclass: int64 class codes; regression: float64 targets."""
    X_valid: pd.DataFrame | None
    y_valid: np.ndarray | None
    n_rounds: int | None
    """Exact rounds to train when there is no validation set; None means early stopping."""
    objective: Objective = "binary"
    n_classes: int | None = 2
    """2 for binary, k for multiclass, None for regression."""
    sample_weight: np.ndarray | None = None
    """float64 weight per training row, or None for unweighted."""


def prepare_fit(
    X_train: pd.DataFrame,
    y_train: Any,
    *,
    features: FeatureSpec,
    X_valid: pd.DataFrame | None,
    y_valid: Any | None,
    n_rounds: int | None,
    objective: Objective = "binary",
    n_classes: int | None = None,
    sample_weight: Any | None = None,
) -> FitData:
    """Check the arguments every adapter's ``fit`` receives, with errors that say what to change."""
    classes = check_objective(objective, n_classes)
    if (X_valid is None) != (y_valid is None):
        raise ValueError("pass both X_valid and y_valid for early stopping, or neither")
    has_valid = X_valid is not None
    if has_valid and n_rounds is not None:
        raise ValueError(
            "n_rounds is for refitting without a validation set; with X_valid/y_valid "
            "the number of rounds comes from early stopping (CandidateParams.max_rounds)"
        )
    if not has_valid and n_rounds is None:
        raise ValueError("without a validation set to early-stop on, pass n_rounds")
    if n_rounds is not None and n_rounds < 1:
        raise ValueError(f"n_rounds must be at least 1, got {n_rounds}")

    train = features.select(X_train)
    labels = objective_labels(y_train, objective, classes, n_rows=len(train), name="y_train")
    if objective == "binary" and len(np.unique(labels)) < 2:
        raise ValueError("y_train must contain both classes (0 and 1)")
    if objective == "multiclass":
        assert classes is not None
        absent = np.flatnonzero(np.bincount(labels, minlength=classes) == 0).tolist()
        if absent:
            raise ValueError(
                f"y_train has no rows of class codes {absent} (n_classes={classes}); "
                "every class needs training rows"
            )
    weight = None
    if sample_weight is not None:
        weight = check_sample_weight(sample_weight, n_rows=len(train))
    valid = valid_labels = None
    if X_valid is not None:
        valid = features.select(X_valid)
        valid_labels = objective_labels(
            y_valid, objective, classes, n_rows=len(valid), name="y_valid"
        )
    return FitData(train, labels, valid, valid_labels, n_rounds, objective, classes, weight)


def check_objective(objective: str, n_classes: int | None) -> int | None:
    """The model's class count for ``objective`` (2, n_classes or None), or a ValueError."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {list(OBJECTIVES)}, got {objective!r}")
    if n_classes is not None:
        if isinstance(n_classes, bool) or not isinstance(n_classes, int | np.integer):
            raise ValueError(f"n_classes must be an int, got {n_classes!r}")
        n_classes = int(n_classes)
    if objective == "binary":
        if n_classes not in (None, 2):
            raise ValueError(
                f"objective='binary' has 2 classes, got n_classes={n_classes}; "
                "use objective='multiclass' for more"
            )
        return 2
    if objective == "multiclass":
        if n_classes is None:
            raise ValueError("objective='multiclass' needs n_classes (the number of class codes)")
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2 for multiclass, got {n_classes}")
        return n_classes
    if n_classes is not None:
        raise ValueError(f"n_classes is for classification; objective='regression' got {n_classes}")
    return None


def probabilities(model: FittedModel, X: pd.DataFrame) -> np.ndarray:
    """``predict_proba`` for adapters whose classifiers' ``predict`` already gives probabilities."""
    if model.objective == "regression":
        raise TypeError(
            f"regression models have no probabilities; use predict (this {model.adapter} model "
            "predicts values)"
        )
    return model.predict(X)


def write_metadata(directory: Path, metadata: dict[str, Any]) -> None:
    """Write the adapter-neutral description of a saved model."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")


def read_metadata(directory: Path) -> dict[str, Any]:
    """Read what ``write_metadata`` wrote, with an error that names the directory."""
    path = Path(directory) / METADATA_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"no saved modelworks model in {directory}: {METADATA_FILE} missing"
        )
    metadata: dict[str, Any] = json.loads(path.read_text())
    if "adapter" not in metadata:
        raise ValueError(f"{path} does not say which adapter saved the model ('adapter' key)")
    return metadata


def saved_objective(metadata: dict[str, Any]) -> tuple[Objective, int | None]:
    """(objective, n_classes) from saved metadata; files written before objectives were
    recorded hold binary classifiers."""
    objective = metadata.get("objective", "binary")
    if objective not in OBJECTIVES:
        raise ValueError(
            f"saved model has objective {objective!r}; this version knows {list(OBJECTIVES)}"
        )
    return objective, check_objective(objective, metadata.get("n_classes"))


def objective_metadata(objective: Objective, n_classes: int | None) -> dict[str, Any]:
    """The metadata keys ``saved_objective`` reads back."""
    return {"objective": objective, "n_classes": n_classes}


def normalised_importance(values: np.ndarray, features: FeatureSpec) -> pd.Series:
    """Importances as shares of the total, indexed by feature name."""
    importance = pd.Series(
        np.asarray(values, dtype=float), index=features.columns, name="importance"
    )
    total = importance.sum()
    return importance / total if total > 0 else importance

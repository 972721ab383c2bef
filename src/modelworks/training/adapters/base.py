"""The contract every model library is wrapped in, and the registry that finds a wrapper by name.

Callers (CV, refit, serving) only speak ``ModelAdapter`` and ``FittedModel``; adding a library
means writing one adapter and registering it, never touching a caller.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from modelworks.params import StrictModel
from modelworks.training.features import FeatureSpec

METADATA_FILE = "modelworks_model.json"
"""Written next to the native model file; says which adapter reads the directory back."""

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
    best_iteration: int
    """Boosting rounds the model keeps and predicts with (a count, not a 0-based index)."""
    params: dict[str, Any]
    """The parameters actually passed to the library, for logging next to the model."""

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """1-D probability of the positive class; extra columns ignored, any column order."""
        ...

    def feature_importance(self) -> pd.Series:
        """Importance per feature name, summing to 1 (all zeros if the model never split)."""
        ...

    def save(self, directory: Path) -> None:
        """Native model file plus ``METADATA_FILE`` (features, categories, adapter name)."""
        ...


@runtime_checkable
class ModelAdapter(Protocol):
    """Trains and loads one library's binary classifiers."""

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
        X_valid: pd.DataFrame | None = None,
        y_valid: Any | None = None,
        n_rounds: int | None = None,
    ) -> FittedModel:
        """Early-stop on (X_valid, y_valid) within max_rounds, or without them train n_rounds."""
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
    """Training inputs after validation: features selected, labels as 0/1 arrays."""

    X_train: pd.DataFrame
    y_train: np.ndarray
    X_valid: pd.DataFrame | None
    y_valid: np.ndarray | None
    n_rounds: int | None
    """Exact rounds to train when there is no validation set; None means early stopping."""


def prepare_fit(
    X_train: pd.DataFrame,
    y_train: Any,
    *,
    features: FeatureSpec,
    X_valid: pd.DataFrame | None,
    y_valid: Any | None,
    n_rounds: int | None,
) -> FitData:
    """Check the arguments every adapter's ``fit`` receives, with errors that say what to change."""
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
    labels = binary_labels(y_train, n_rows=len(train), name="y_train")
    if len(np.unique(labels)) < 2:
        raise ValueError("y_train must contain both classes (0 and 1)")
    valid = valid_labels = None
    if X_valid is not None:
        valid = features.select(X_valid)
        valid_labels = binary_labels(y_valid, n_rows=len(valid), name="y_valid")
    return FitData(train, labels, valid, valid_labels, n_rounds)


def binary_labels(y: Any, *, n_rows: int, name: str) -> np.ndarray:
    """``y`` as a 1-D int array of 0/1, checked against the number of feature rows."""
    values = np.asarray(y)
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {values.shape}")
    if len(values) != n_rows:
        raise ValueError(f"{name} has {len(values)} labels for {n_rows} feature rows")
    if pd.isna(values).any():
        raise ValueError(f"{name} has missing labels")
    distinct = {v.item() if isinstance(v, np.generic) else v for v in pd.unique(values)}
    unexpected = sorted(map(repr, distinct - {0, 1}))
    if unexpected:
        raise ValueError(
            f"{name} must hold binary labels 0/1 (or booleans); found {unexpected[:5]}"
        )
    return values.astype(np.int64)


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


def normalised_importance(values: np.ndarray, features: FeatureSpec) -> pd.Series:
    """Importances as shares of the total, indexed by feature name."""
    importance = pd.Series(
        np.asarray(values, dtype=float), index=features.columns, name="importance"
    )
    total = importance.sum()
    return importance / total if total > 0 else importance

"""The contract every model library is wrapped in, and the registry that finds a wrapper by name.

Callers (CV, refit, serving) only speak ``ModelAdapter`` and ``FittedModel``; adding a library
means writing one adapter and registering it, never touching a caller. ``AdapterBase`` and
``FittedBase`` hold what the built-in adapters share: argument checks, metadata, saving.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from modelworks.params import StrictModel
from modelworks.training.adapters.labels import (
    OBJECTIVES,
    FitData,
    Objective,
    binary_labels,
    check_objective,
    check_sample_weight,
    class_codes,
    objective_labels,
    prepare_fit,
    regression_targets,
)
from modelworks.training.features import FeatureSpec
from modelworks.training.search import SearchParams

__all__ = [
    "METADATA_FILE",
    "OBJECTIVES",
    "AdapterBase",
    "CandidateParams",
    "FitData",
    "FittedBase",
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

_REGISTRY: dict[str, ModelAdapter] = {}


class CandidateParams(StrictModel):
    """One model candidate: which library, its parameters, and the boosting budget."""

    adapter: str
    params: dict[str, Any] = {}
    max_rounds: int = Field(default=2000, ge=1)
    early_stopping_rounds: int = Field(default=50, ge=1)
    search: SearchParams | None = None
    """A hyperparameter search over some of ``params`` (``modelworks.training.search``)."""

    @field_validator("adapter")
    @classmethod
    def _adapter_is_registered(cls, name: str) -> str:
        get_adapter(name)
        return name

    @model_validator(mode="after")
    def _params_leave_managed_keys_alone(self) -> CandidateParams:
        searched = set(self.search.space) if self.search is not None else set()
        managed = sorted((set(self.params) | searched) & get_adapter(self.adapter).reserved_params)
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

ModelT = TypeVar("ModelT", bound=FittedModel)
NativeT = TypeVar("NativeT")


class AdapterBase(ModelAdapter, ABC, Generic[ModelT]):
    """``ModelAdapter.fit`` for the adapters that train on ``prepare_fit``'s checked inputs.

    A subclass sets ``name`` and ``reserved_params`` and writes ``_train`` and ``load``.
    """

    def fit(self, X_train: pd.DataFrame, y_train: Any, **arguments: Any) -> ModelT:
        """``ModelAdapter.fit`` (see there for the arguments and their defaults): ``prepare_fit``
        checks them, then ``_train`` trains on what it returns with ``candidate`` and ``seed``."""
        try:
            candidate: CandidateParams = arguments.pop("candidate")
            seed: int = arguments.pop("seed")
        except KeyError as missing:
            raise TypeError(f"fit() missing required keyword argument {missing}") from None
        data = prepare_fit(X_train, y_train, **arguments)
        return self._train(data, features=arguments["features"], candidate=candidate, seed=seed)

    @abstractmethod
    def _train(
        self, data: FitData, *, features: FeatureSpec, candidate: CandidateParams, seed: int
    ) -> ModelT:
        """Train on ``data``: early stopping if it has a validation set, else ``data.n_rounds``."""

    @abstractmethod
    def load(self, directory: Path) -> ModelT:
        """Read back what the model's ``save`` wrote."""

    @staticmethod
    def _trained(data: FitData, features: FeatureSpec, params: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments every ``FittedBase`` model takes, for one trained on ``data``
        with the library parameters ``params``."""
        return {
            "features": features,
            "params": params,
            "objective": data.objective,
            "n_classes": data.n_classes,
        }

    def _saved(self, directory: Path) -> tuple[dict[str, Any], dict[str, Any]]:
        """The metadata this adapter saved in ``directory``, and from it the keyword arguments
        every ``FittedBase`` model takes (as ``_trained`` gives them)."""
        metadata = read_metadata(directory)
        if metadata["adapter"] != self.name:
            raise ValueError(f"{directory} holds a {metadata['adapter']} model, not {self.name}")
        objective, n_classes = saved_objective(metadata)
        return metadata, {
            "features": FeatureSpec.model_validate(metadata["features"]),
            "params": metadata["params"],
            "objective": objective,
            "n_classes": n_classes,
        }


class FittedBase(ABC, Generic[NativeT]):
    """The ``FittedModel`` parts the built-in adapters' models share, around the library's own
    model object; a subclass adds ``predict`` and the library's importance, file and metadata."""

    adapter: str
    model_file: str
    """The native model file ``save`` writes next to ``METADATA_FILE``."""

    def __init__(
        self,
        native: NativeT,
        *,
        features: FeatureSpec,
        params: dict[str, Any],
        objective: Objective = "binary",
        n_classes: int | None = None,
        best_iteration: int,
    ) -> None:
        self._native = native
        self.features = features
        self.params = params
        self.objective: Objective = objective
        self.n_classes = check_objective(objective, n_classes)
        self.best_iteration = best_iteration

    @property
    def native(self) -> NativeT:
        """The library's own model object, for library-specific tooling."""
        return self._native

    @abstractmethod
    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """binary: 1-D P(class 1); multiclass: (n_rows, n_classes) probabilities; regression:
        1-D values. Extra columns ignored, any column order."""

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """binary: 1-D P(class 1); multiclass: (n_rows, n_classes); regression: TypeError."""
        return probabilities(self, X)

    def feature_importance(self) -> pd.Series:
        """The library's importance per feature (see ``_importance``), as shares of the total."""
        return normalised_importance(self._importance(), self.features)

    def save(self, directory: Path) -> None:
        """``model_file`` plus the metadata json."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._save_native(directory / self.model_file)
        metadata = {
            "adapter": self.adapter,
            "model_file": self.model_file,
            "features": self.features.model_dump(),
            "best_iteration": self.best_iteration,
            "params": self.params,
        }
        write_metadata(
            directory,
            {**metadata, **self._metadata(), **objective_metadata(self.objective, self.n_classes)},
        )

    @abstractmethod
    def _importance(self) -> np.ndarray:
        """Raw importance per feature, in ``features.columns`` order."""

    @abstractmethod
    def _save_native(self, path: Path) -> None:
        """Write the library's own model file at ``path``."""

    @abstractmethod
    def _metadata(self) -> dict[str, Any]:
        """``library_version`` and the adapter's own metadata keys."""


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

"""A registered model version as a Kedro dataset, so scoring nodes receive it ready to use."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from kedro.io import AbstractDataset, DatasetError

from modelworks.registry.lineage import LINEAGE_FILE, PROFILE_FILE


@dataclass(frozen=True)
class ServedModel:
    """A loaded pyfunc, which registered version it is, and what monitoring needs of it."""

    name: str
    version: str
    run_id: str
    pyfunc: Any
    reference_profile: dict[str, Any] | None = None
    """The monitoring reference stored with the version (holdout features, scores, calibration)."""
    data_through: str | None = None
    """The newest labelled event the version was trained on (ISO time), from its lineage."""
    task: str = "binary_classification"
    """The task family the version was trained for (its ``task`` tag)."""

    def predict(self, rows: pd.DataFrame) -> Any:
        """Predictions for ``rows`` (complete feature rows, or entity keys and request fields):
        a float array, or a frame with a column per class for a multiclass model.

        The rows are held to the signature here (``conform_to_schema``, required columns);
        a model packaged as ``ProbabilityModel`` whose signature declares only types that check
        holds then answers directly, without MLflow enforcing the same schema again.
        """
        from modelworks.serving.pyfunc import conform_to_schema, conformed_columns

        direct = self._direct
        if direct is None:
            return _scores(self.pyfunc.predict(conform_to_schema(rows, self._input_schema)))
        columns = conformed_columns(rows, self._input_schema)
        _require(self._required, columns)
        return _scores(direct.predict_columns(columns, rows.index))

    def score_records(self, records: list[dict[str, Any]]) -> Any:
        """``predict`` for rows already held to the signature's types (the HTTP server's,
        validated against a request model built from it), given as dicts: no frame is built
        until the model's own, and none at all for a row's stored features."""
        direct = self._direct
        if direct is None:
            return self.predict(pd.DataFrame(records))
        for record in records:
            _require(self._required, record)
        return _scores(direct.predict_records(records))

    def prepare_online(self) -> None:
        """Open what a served request needs (the online store, its feature service resolved)
        before the first request, so that it does not pay for it."""
        direct = self._direct
        if direct is not None:
            direct.prepare()

    def predict_rows(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The model's own answer for ``rows``, for a model that answers with rows (a top-k list
        per user) rather than one score per row."""
        from modelworks.serving.pyfunc import conform_to_schema

        return pd.DataFrame(self.pyfunc.predict(conform_to_schema(rows, self._input_schema)))

    @cached_property
    def _input_schema(self) -> Any:
        return self.pyfunc.metadata.get_input_schema()

    @cached_property
    def _required(self) -> list[str]:
        schema = self._input_schema
        if schema is None or not schema.has_input_names():
            return []
        return [spec.name for spec in schema.inputs if spec.required]

    @cached_property
    def _direct(self) -> Any:
        """The packaged ``ProbabilityModel`` where ``conform_to_schema`` checks every input the
        signature declares (named numbers and text); None where MLflow must judge some."""
        from mlflow.exceptions import MlflowException

        from modelworks.serving.pyfunc import CONFORMED_TYPES, ProbabilityModel

        schema = self._input_schema
        if schema is None or not schema.has_input_names():
            return None
        declared = {str(getattr(spec.type, "name", "")) for spec in schema.inputs}
        if not declared <= CONFORMED_TYPES:
            return None
        try:
            python_model = self.pyfunc.unwrap_python_model()
        except (AttributeError, MlflowException):  # not a Python model, or not MLflow's pyfunc
            return None
        return python_model if isinstance(python_model, ProbabilityModel) else None


def _require(required: list[str], present: Any) -> None:
    """``MissingFieldsError`` naming the required inputs ``present`` lacks."""
    from modelworks.serving.pyfunc import MissingFieldsError

    absent = [name for name in required if name not in present]
    if absent:
        raise MissingFieldsError(absent)


def _scores(answer: Any) -> Any:
    """A frame (a column per class) as it is, anything else as a float array."""
    if isinstance(answer, pd.DataFrame):
        return answer
    return np.asarray(answer, dtype=float)


def _run_artifact_json(run_id: str, path: str) -> dict[str, Any] | None:
    """A JSON artifact of a run, or None when the run has none at that path."""
    import json
    import tempfile
    from pathlib import Path

    import mlflow
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = mlflow.MlflowClient().download_artifacts(run_id, path, tmp)
        except (MlflowException, OSError):
            return None
        document: dict[str, Any] = json.loads(Path(local).read_text())
        return document


class RegisteredModelDataset(AbstractDataset[None, ServedModel]):
    """Loads the version of ``model_name`` that holds ``alias`` (``champion`` by default)."""

    def __init__(
        self, model_name: str, alias: str = "champion", metadata: dict[str, Any] | None = None
    ) -> None:
        self._model_name = model_name
        self._alias = alias
        self.metadata = metadata

    def load(self) -> ServedModel:
        import mlflow
        from mlflow.exceptions import MlflowException

        try:
            version = mlflow.MlflowClient().get_model_version_by_alias(
                self._model_name, self._alias
            )
        except MlflowException:
            raise DatasetError(
                f"Registered model {self._model_name!r} has no version with alias "
                f"{self._alias!r}: train it first (kedro run --pipelines {self._model_name})"
            ) from None
        uri = f"models:/{self._model_name}@{self._alias}"
        run_id = str(version.run_id)
        lineage = _run_artifact_json(run_id, LINEAGE_FILE) or {}
        return ServedModel(
            name=self._model_name,
            version=str(version.version),
            run_id=run_id,
            pyfunc=mlflow.pyfunc.load_model(uri),
            reference_profile=_run_artifact_json(run_id, PROFILE_FILE),
            data_through=lineage.get("training", {}).get("data_through"),
            task=str(version.tags.get("task", "binary_classification")),
        )

    def save(self, data: None) -> None:
        raise DatasetError("RegisteredModelDataset is read-only: the registry moves through gates")

    def _describe(self) -> dict[str, Any]:
        return {"model_name": self._model_name, "alias": self._alias}


@dataclass(frozen=True)
class ShadowModels:
    """The champion (None before the first) and the challengers in shadow, newest first."""

    champion: ServedModel | None
    challengers: list[ServedModel]


class ShadowModelsDataset(AbstractDataset[None, ShadowModels]):
    """Loads ``model_name``'s champion and every challenger (``registry.challengers``); a
    model not registered yet has neither."""

    def __init__(self, model_name: str, metadata: dict[str, Any] | None = None) -> None:
        self._model_name = model_name
        self.metadata = metadata

    def load(self) -> ShadowModels:
        import mlflow
        from mlflow.exceptions import MlflowException

        from modelworks.registry.challengers import challenger_alias, challengers

        try:
            aliases = mlflow.MlflowClient().get_registered_model(self._model_name).aliases
        except MlflowException:
            return ShadowModels(None, [])
        slots = range(len(challengers(self._model_name)))
        return ShadowModels(
            RegisteredModelDataset(self._model_name).load() if "champion" in aliases else None,
            [RegisteredModelDataset(self._model_name, challenger_alias(i)).load() for i in slots],
        )

    def save(self, data: None) -> None:
        raise DatasetError("ShadowModelsDataset is read-only: the registry moves through gates")

    def _describe(self) -> dict[str, Any]:
        return {"model_name": self._model_name}

"""A registered model version as a Kedro dataset, so scoring nodes receive it ready to use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from kedro.io import AbstractDataset, DatasetError


@dataclass(frozen=True)
class ServedModel:
    """A loaded pyfunc and which registered version it is."""

    name: str
    version: str
    run_id: str
    pyfunc: Any

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        """Scores for ``rows``: complete feature rows, or entity keys and request fields."""
        from modelworks.serving.pyfunc import conform_to_schema

        schema = self.pyfunc.metadata.get_input_schema()
        return np.asarray(self.pyfunc.predict(conform_to_schema(rows, schema)), dtype=float)


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
        return ServedModel(
            name=self._model_name,
            version=str(version.version),
            run_id=str(version.run_id),
            pyfunc=mlflow.pyfunc.load_model(uri),
        )

    def save(self, data: None) -> None:
        raise DatasetError("RegisteredModelDataset is read-only: the registry moves through gates")

    def _describe(self) -> dict[str, Any]:
        return {"model_name": self._model_name, "alias": self._alias}

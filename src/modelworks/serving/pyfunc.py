"""The MLflow pyfunc every registered classifier is packaged as: one artifact, batch and online.

Given complete feature rows it scores them. Given entity keys (plus the request-time fields
the feature store does not hold) it fetches the rest from the Feast online store itself, so
an online caller sends ``{"borrower_id": 42, "amount": 1500, "term_days": 14}`` and a batch
job sends the point-in-time rows it already has. Columns a caller supplies always win.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

MODEL_ARTIFACT = "fitted_model"
FEATURE_REPO_ENV = "MODELWORKS_FEATURE_REPO"
_FLOATING = frozenset({"double", "float"})


class UnknownEntityError(LookupError):
    """Keys the online store holds no features for."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.keys = keys
        shown = ", ".join(str(k) for k in keys[:5])
        more = f" and {len(keys) - 5} more" if len(keys) > 5 else ""
        super().__init__(f"no features in the online store for {shown}{more}")


class MissingFieldsError(ValueError):
    """Request-time fields the caller must send and did not."""

    def __init__(self, fields: list[str]) -> None:
        self.fields = fields
        super().__init__(f"missing required field(s): {', '.join(fields)}")


def conform_to_schema(frame: pd.DataFrame, schema: Any) -> pd.DataFrame:
    """The schema's columns of ``frame``, those declared floating point cast to float64.

    Numeric features are logged as double (a column of counts turns float as soon as it has a
    gap), and MLflow refuses int64 for a double column, although no value changes.
    """
    if schema is None or not schema.has_input_names():
        return frame
    floating = [
        spec.name
        for spec in schema.inputs
        if spec.name in frame.columns and str(getattr(spec.type, "name", "")) in _FLOATING
    ]
    columns = [name for name in schema.input_names() if name in frame.columns]
    # One frame built from columns: on a single-row request, DataFrame.astype with a dict of
    # dtypes costs ten times as much.
    return pd.DataFrame(
        {
            name: frame[name].to_numpy(dtype="float64", na_value=np.nan)
            if name in floating
            else frame[name]
            for name in columns
        },
        index=frame.index,
    )


class ProbabilityModel(PythonModel):
    """A tabular model's prediction, from feature rows or from entity keys: the probability of
    the positive class, a probability per class (a frame, columns ``classes`` of the config), or
    a predicted value.

    The fitted model travels as an artifact in its library's native format and this class as
    code (``model_code.py``), never as a pickle, so the MLflow model stays loadable across
    library patch releases. ``model_config`` says where features come from:
    ``feature_service``, ``join_keys``, ``online_features`` and ``feature_repo`` (overridden
    by the environment variable ``MODELWORKS_FEATURE_REPO`` or by ``model_config`` at load).
    """

    def load_context(self, context: Any) -> None:
        self._config: Mapping[str, Any] = context.model_config or {}
        self._model = self._load(Path(context.artifacts[MODEL_ARTIFACT]))
        self._lookup: OnlineFeatures | None = None

    def _load(self, directory: Path) -> Any:
        """The fitted model, from its native files; it has ``features`` (a ``FeatureSpec``)."""
        from modelworks.training.adapters import load_fitted

        return load_fitted(directory)

    def _answer(self, rows: pd.DataFrame) -> Any:
        """The model's answer for complete feature rows."""
        predictions = self._model.predict(rows)
        classes = self._config.get("classes")
        if classes:
            return pd.DataFrame(predictions, columns=list(classes), index=rows.index)
        return predictions

    # Left unannotated: MLflow reads type hints on predict as a schema and would override the
    # signature logged with the model.
    def predict(self, context, model_input, params=None):
        rows = pd.DataFrame(model_input)
        needed = self._model.features.columns
        # A missing value is a value (a borrower with no history); only an absent column is
        # something to fetch.
        absent = [c for c in needed if c not in rows.columns]
        if absent:
            rows = self._online(absent).complete(rows, needed)
        return self._answer(rows)

    def _online(self, absent: list[str]) -> OnlineFeatures:
        """The online store, connected on first need: batch scoring with complete rows never
        opens it."""
        if not self._config.get("feature_service"):
            raise MissingFieldsError(absent)
        if self._lookup is None:
            self._lookup = OnlineFeatures.from_config(self._config)
        return self._lookup


class OnlineFeatures:
    """Feature rows for entity keys, read from the Feast online store of the feature service."""

    def __init__(
        self, repo_path: str, service: str, join_keys: list[str], online_features: list[str]
    ) -> None:
        from feast import FeatureStore

        self._store = FeatureStore(repo_path=repo_path)
        self._service = self._store.get_feature_service(service)
        self.join_keys = list(join_keys)
        self.online_features = list(online_features)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OnlineFeatures:
        repo = os.environ.get(FEATURE_REPO_ENV) or config["feature_repo"]
        return cls(repo, config["feature_service"], config["join_keys"], config["online_features"])

    def complete(self, rows: pd.DataFrame, needed: list[str]) -> pd.DataFrame:
        """``rows`` with every needed column: supplied ones kept, the rest from the store."""
        missing_keys = [k for k in self.join_keys if k not in rows.columns or rows[k].isna().any()]
        if missing_keys:
            raise MissingFieldsError(missing_keys)
        request_only = [c for c in needed if c not in self.online_features]
        absent = [c for c in request_only if c not in rows.columns]
        if absent:
            raise MissingFieldsError(absent)
        keys = [
            dict(zip(self.join_keys, values, strict=True))
            for values in zip(*(rows[k].tolist() for k in self.join_keys), strict=True)
        ]
        # Feast's dict of lists, turned into one frame with the supplied columns: a single-row
        # request spends its time on pandas calls, so there are as few as possible.
        found = self._store.get_online_features(features=self._service, entity_rows=keys).to_dict()
        served = [c for c in self.online_features if c in found]
        unknown = np.ones(len(keys), dtype=bool)
        for column in served:
            unknown &= _missing(found[column])
        if unknown.any():
            raise UnknownEntityError([k for k, u in zip(keys, unknown, strict=True) if u])
        columns: dict[str, Any] = {c: rows[c] for c in rows.columns}
        columns.update({c: found[c] for c in served if c not in columns})
        return pd.DataFrame(columns, index=rows.index)


def _missing(values: list[Any]) -> np.ndarray:
    """Which of Feast's values are missing (None or NaN); a list-valued cell never is."""
    cells = np.empty(len(values), dtype=object)
    for position, value in enumerate(values):
        cells[position] = value
    return pd.isna(cells)

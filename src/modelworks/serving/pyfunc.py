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
_INTEGRAL = frozenset({"long", "integer"})
# What pandas.api.types.infer_dtype calls a column of numbers (gaps skipped).
_NUMERIC_KINDS = frozenset(
    {"integer", "floating", "mixed-integer-float", "decimal", "boolean", "empty"}
)
_INT64_MAX = np.iinfo(np.int64).max


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
    """The schema's columns of ``frame``, each in the type the signature declares where that
    changes no value; ``InputTypeError`` naming the column where it would.

    MLflow refuses int64 for a double column and float64 for a long one although no value
    changes: a count column turns float as soon as it has a gap, a batch without gaps turns it
    back, and a version logged before integer columns were declared long has them as double.
    An integer widens to float, a whole float narrows to an integer and a category turns into
    its labels; a fraction where whole numbers were trained, or text where numbers were, is
    refused here, before the model sees it, with the column's name.
    """
    if schema is None or not schema.has_input_names():
        return frame
    # One frame built from columns: on a single-row request, DataFrame.astype with a dict of
    # dtypes costs ten times as much.
    return pd.DataFrame(
        {
            spec.name: _conform(spec.name, frame[spec.name], str(getattr(spec.type, "name", "")))
            for spec in schema.inputs
            if spec.name in frame.columns
        },
        index=frame.index,
    )


class InputTypeError(ValueError):
    """A column whose values cannot be read as the type the model was trained on."""

    def __init__(self, column: str, problem: str) -> None:
        self.column = column
        super().__init__(f"column {column!r}: {problem}")


def _conform(name: str, values: pd.Series, declared: str) -> Any:
    """``values`` as the signature's ``declared`` type, or unchanged where it names no number
    and no text (MLflow judges those itself)."""
    if declared in _FLOATING:
        return values if values.dtype == np.float64 else _as_float(name, values)
    if declared in _INTEGRAL:
        return values if values.dtype == np.int64 else _as_integer(name, values)
    if declared == "string":
        return _as_text(name, values)
    return values


def _as_float(name: str, values: pd.Series) -> np.ndarray:
    """Numbers (of any width, nullable or in an object column) as float64, gaps as NaN."""
    if not pd.api.types.is_numeric_dtype(values.dtype):
        kind = pd.api.types.infer_dtype(values, skipna=True)
        if kind not in _NUMERIC_KINDS:
            raise InputTypeError(name, f"expected numbers, got {_shown(values)}")
    try:
        return values.to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError):
        raise InputTypeError(name, f"expected numbers, got {_shown(values)}") from None


def _as_integer(name: str, values: pd.Series) -> np.ndarray:
    """Whole numbers as int64: the model was trained on an integer column with no gaps, and
    MLflow's long column can hold neither a fraction nor a missing value."""
    gaps = int(values.isna().sum())
    if gaps:
        raise InputTypeError(
            name,
            f"{gaps} missing value(s) in a column trained as whole numbers without gaps (the "
            "signature's long type cannot hold one); send the value or retrain on data with gaps",
        )
    if pd.api.types.is_integer_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        integers = values.to_numpy()
        if integers.dtype.kind == "u" and integers.size and integers.max() > _INT64_MAX:
            raise InputTypeError(name, f"{integers.max()} does not fit a 64-bit integer")
        return integers.astype(np.int64)
    numbers = _as_float(name, values)
    fractional = numbers != np.trunc(numbers)
    if fractional.any():
        raise InputTypeError(
            name,
            f"expected whole numbers (trained as integers), got {float(numbers[fractional][0])!r}",
        )
    if numbers.size and np.abs(numbers).max() > _INT64_MAX:
        raise InputTypeError(
            name, f"{float(np.abs(numbers).max())!r} does not fit a 64-bit integer"
        )
    return numbers.astype(np.int64)


def _as_text(name: str, values: pd.Series) -> Any:
    """Labels for a text column: a category becomes its labels and a column with no value at
    all is missing text; numbers are refused (MLflow would, in less words)."""
    if isinstance(values.dtype, pd.CategoricalDtype) or values.isna().all():
        return values.astype(object).where(values.notna(), None)
    if pd.api.types.is_numeric_dtype(values.dtype):
        raise InputTypeError(name, f"expected text (trained as labels), got {_shown(values)}")
    return values


def _shown(values: pd.Series) -> str:
    """The column's dtype and the first value that is not a number (or not missing), for an
    error message: the value to look for in the caller's data."""
    present = values.dropna()
    odd = [v for v in present.iloc[:1000] if not isinstance(v, int | float | np.number)]
    example = odd[0] if odd else present.iloc[0] if len(present) else None
    return f"{values.dtype}" + ("" if example is None else f", e.g. {example!r}")


class ProbabilityModel(PythonModel):
    """A tabular model's prediction, from feature rows or from entity keys: the probability of
    the positive class, a probability per class (a frame, columns ``classes`` of the config), or
    a predicted value.

    The fitted model travels as an artifact in its library's native format and this class as
    code (``model_code.py``), never as a pickle, so the MLflow model stays loadable across
    library patch releases. ``model_config`` says where features come from:
    ``feature_service``, ``join_keys``, ``online_features`` and ``feature_repo`` (overridden
    by the environment variable ``MODELWORKS_FEATURE_REPO`` or by ``model_config`` at load);
    the store is configured by the repo's ``feature_store.yaml`` or by the file that Feast's
    ``FEAST_FS_YAML_FILE_PATH`` names (the production profile's Redis online store).
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
        from modelworks.features.store import open_feature_store

        self._store = open_feature_store(repo_path)
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

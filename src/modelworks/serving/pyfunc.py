"""The MLflow pyfunc every registered classifier is packaged as: one artifact, batch and online.

Given complete feature rows it scores them. Given entity keys (plus the request-time fields
the feature store does not hold) it fetches the rest from the Feast online store itself, so
an online caller sends ``{"borrower_id": 42, "amount": 1500, "term_days": 14}`` and a batch
job sends the point-in-time rows it already has. Columns a caller supplies always win.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

if TYPE_CHECKING:
    from modelworks.serving.matrix import LightGBMMatrix

MODEL_ARTIFACT = "fitted_model"
FEATURE_REPO_ENV = "MODELWORKS_FEATURE_REPO"
_FLOATING = frozenset({"double", "float"})
_INTEGRAL = frozenset({"long", "integer"})
CONFORMED_TYPES = _FLOATING | _INTEGRAL | {"string"}
"""Signature types ``conform_to_schema`` holds a column to (or refuses it, naming it)."""
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
    return pd.DataFrame(conformed_columns(frame, schema), index=frame.index)


def conformed_columns(frame: pd.DataFrame, schema: Any) -> dict[str, Any]:
    """``conform_to_schema``'s columns, by name, before they are made a frame (the signature
    must name its inputs)."""
    return {
        spec.name: _conform(spec.name, frame[spec.name], str(getattr(spec.type, "name", "")))
        for spec in schema.inputs
        if spec.name in frame.columns
    }


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


ONE_THREAD_ROWS = 256
"""Requests of fewer rows are predicted on one OpenMP thread. LightGBM splits a prediction by
rows: a single row gains nothing from more threads and waits for all of them to wake, which
costs milliseconds on a busy machine (its p99 went from about 0.3 to 3 ms on two cores)."""


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

    ``predict`` is MLflow's entry; ``predict_frame`` and ``predict_records`` are the same
    answer for a caller that has already held its rows to the signature (``ServedModel``, the
    HTTP server), without MLflow's per-call schema enforcement.
    """

    def load_context(self, context: Any) -> None:
        self._config: Mapping[str, Any] = context.model_config or {}
        self._model = self._load(Path(context.artifacts[MODEL_ARTIFACT]))
        self._matrix = self._matrix_path()
        self._lookup: OnlineFeatures | None = None
        self._threads = OneThread()

    def _load(self, directory: Path) -> Any:
        """The fitted model, from its native files; it has ``features`` (a ``FeatureSpec``)."""
        from modelworks.training.adapters import load_fitted

        return load_fitted(directory)

    def _matrix_path(self) -> LightGBMMatrix | None:
        """LightGBM's numpy path to this model's answer, where there is one."""
        from modelworks.serving.matrix import LightGBMMatrix

        return LightGBMMatrix.of(self._model)

    def _answer(self, rows: pd.DataFrame) -> Any:
        """The model's answer for complete feature rows."""
        return self._labelled(self._model.predict(rows), rows.index)

    def _labelled(self, predictions: Any, index: pd.Index) -> Any:
        """A frame with a column per class where the config names classes, else as it is."""
        classes = self._config.get("classes")
        if classes:
            return pd.DataFrame(predictions, columns=list(classes), index=index)
        return predictions

    # Left unannotated: MLflow reads type hints on predict as a schema and would override the
    # signature logged with the model.
    def predict(self, context, model_input, params=None):
        return self.predict_frame(pd.DataFrame(model_input))

    def predict_frame(self, rows: pd.DataFrame) -> Any:
        """The answer for ``rows``: complete feature rows, or entity keys and request fields
        (the stored features fetched for every needed column the frame lacks)."""
        if self._matrix is not None:
            columns = {c: rows[c].to_numpy() for c in rows.columns}
            return self._labelled(self._by_matrix(self._matrix, columns, len(rows)), rows.index)
        needed = self._model.features.columns
        # A missing value is a value (a borrower with no history); only an absent column is
        # something to fetch.
        absent = [c for c in needed if c not in rows.columns]
        if absent:
            rows = self._online(absent).complete(rows, needed)
        with self._threads.when(len(rows) < ONE_THREAD_ROWS):
            return self._answer(rows)

    def predict_columns(self, columns: dict[str, Any], index: pd.Index) -> Any:
        """The answer for rows given as columns (arrays or lists, one value per row of
        ``index``), as ``predict_frame`` gives it for the frame of those columns."""
        if self._matrix is None:
            return self.predict_frame(pd.DataFrame(columns, index=index))
        return self._labelled(self._by_matrix(self._matrix, dict(columns), len(index)), index)

    def predict_records(self, records: Sequence[Mapping[str, Any]]) -> Any:
        """The answer for rows given as mappings: a field a row leaves out is missing in that
        row, a field no row sends is fetched from the store."""
        return self.predict_columns(columns_of(records), pd.RangeIndex(len(records)))

    def _by_matrix(self, matrix: LightGBMMatrix, columns: dict[str, Any], count: int) -> np.ndarray:
        """The prediction from columns of values, stored features added to them as lists."""
        needed = self._model.features.columns
        absent = [c for c in needed if c not in columns]
        if absent:
            columns.update(self._online(absent).fetch(columns, needed, count))
        with self._threads.when(count < ONE_THREAD_ROWS):
            return matrix.predict(columns, count)

    def prepare(self) -> None:
        """Connect the online store and find the OpenMP runtime now, not on the first request
        (opening the store imports Feast, seconds)."""
        if self._config.get("feature_service"):
            self._online([])
        self._threads.runtimes()

    def _online(self, absent: list[str]) -> OnlineFeatures:
        """The online store, connected on first need: batch scoring with complete rows never
        opens it."""
        if not self._config.get("feature_service"):
            raise MissingFieldsError(absent)
        if self._lookup is None:
            self._lookup = OnlineFeatures.from_config(self._config)
        return self._lookup


class OneThread:
    """OpenMP limited to one thread for a call, in the calling thread only (OpenMP keeps the
    limit per thread), found once: threadpoolctl's own lookup of the loaded libraries costs
    more than a one-row prediction."""

    def __init__(self) -> None:
        self._openmp: Any = None

    def when(self, small: bool) -> AbstractContextManager[Any]:
        """One thread inside the block if ``small``, the process's setting otherwise."""
        if not small:
            return nullcontext()
        return self.runtimes().limit(limits=1)

    def __getstate__(self) -> dict[str, Any]:
        """Without the runtimes (they hold library handles): a model sent to a Dask worker
        finds them again there."""
        return {"_openmp": None}

    def runtimes(self) -> Any:
        """The OpenMP runtimes loaded in the process (threadpoolctl's), found on first use."""
        if self._openmp is None:
            from threadpoolctl import ThreadpoolController

            self._openmp = ThreadpoolController().select(user_api="openmp")
        return self._openmp


def columns_of(records: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """The records as columns, in the order fields first appear; None where a row lacks one."""
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    return {name: [record.get(name) for record in records] for name in names}


@dataclass(frozen=True)
class ViewRead:
    """What one feature view of the service reads, resolved once from Feast's registry: the
    view, its join keys (as stored, and as the request names them), their Feast value types,
    and the requested features with their value types."""

    view: Any
    stored_keys: tuple[str, ...]
    request_keys: tuple[str, ...]
    key_types: tuple[Any, ...]
    features: tuple[str, ...]
    feature_types: tuple[Any, ...]

    @classmethod
    def resolve(cls, store: Any, projection: Any) -> ViewRead:
        """The read of ``projection`` (a feature service's view projection) in ``store``."""
        view = store.get_feature_view(projection.name).with_projection(projection)
        entity_columns = list(view.entity_columns)
        renamed = projection.join_key_map or {}
        features = [field.name for field in projection.features]
        dtypes = {field.name: field.dtype for field in view.features}
        return cls(
            view=view,
            stored_keys=tuple(field.name for field in entity_columns),
            request_keys=tuple(renamed.get(field.name, field.name) for field in entity_columns),
            key_types=tuple(field.dtype.to_value_type() for field in entity_columns),
            features=tuple(features),
            feature_types=tuple(dtypes[name].to_value_type() for name in features),
        )


class OnlineFeatures:
    """Feature rows for entity keys, read from the Feast online store of the feature service.

    The service is resolved once, at construction, into the feature views it reads and their
    keys; each call then builds Feast's entity keys and reads each view with its provider's
    ``online_read``, the online store call under ``get_online_features``, and converts values
    as ``get_online_features(...).to_dict()`` does. A redefinition of the service (``feast
    apply``) needs the model reloaded; newly materialised values are read at once.
    """

    def __init__(
        self, repo_path: str, service: str, join_keys: list[str], online_features: list[str]
    ) -> None:
        from modelworks.features.store import open_feature_store

        store = open_feature_store(repo_path)
        self._config = store.config
        self._provider = store.provider
        projections = store.get_feature_service(service).feature_view_projections
        self._reads = [ViewRead.resolve(store, projection) for projection in projections]
        # the keys every view reads, beside the ones the model names
        view_keys = [key for read in self._reads for key in read.request_keys]
        self.join_keys = list(dict.fromkeys([*join_keys, *view_keys]))
        self.online_features = list(online_features)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OnlineFeatures:
        repo = os.environ.get(FEATURE_REPO_ENV) or config["feature_repo"]
        return cls(repo, config["feature_service"], config["join_keys"], config["online_features"])

    def complete(self, rows: pd.DataFrame, needed: list[str]) -> pd.DataFrame:
        """``rows`` with every needed column: supplied ones kept, the rest from the store."""
        supplied = {c: rows[c].tolist() for c in rows.columns}
        columns: dict[str, Any] = {c: rows[c] for c in rows.columns}
        columns.update(self.fetch(supplied, needed, len(rows)))
        return pd.DataFrame(columns, index=rows.index)

    def fetch(
        self, supplied: Mapping[str, list[Any]], needed: list[str], count: int
    ) -> dict[str, list[Any]]:
        """The stored features that ``supplied`` (each of ``count`` rows' values, by column)
        lacks, a list per column; ``MissingFieldsError`` for an absent key or request field,
        ``UnknownEntityError`` for keys the store holds no feature for."""
        missing_keys = [
            k for k in self.join_keys if k not in supplied or any(_missing(supplied[k]))
        ]
        if missing_keys:
            raise MissingFieldsError(missing_keys)
        request_only = [c for c in needed if c not in self.online_features]
        absent = [c for c in request_only if c not in supplied]
        if absent:
            raise MissingFieldsError(absent)
        keys = {k: _values(supplied[k]) for k in self.join_keys}
        found: dict[str, list[Any]] = {}
        for read in self._reads:
            found.update(self._read(read, keys))
        served = [c for c in self.online_features if c in found]
        unknown = [row for row in range(count) if all(_absent(found[c][row]) for c in served)]
        if unknown:
            raise UnknownEntityError([{k: keys[k][row] for k in self.join_keys} for row in unknown])
        return {c: found[c] for c in served if c not in supplied}

    def _read(self, read: ViewRead, keys: Mapping[str, list[Any]]) -> dict[str, list[Any]]:
        """One view's features for each row, each distinct entity read once."""
        from feast.protos.feast.types.EntityKey_pb2 import EntityKey
        from feast.type_map import feast_value_type_to_python_type, python_values_to_proto_values

        key_rows = list(zip(*(keys[k] for k in read.request_keys), strict=True))
        distinct = list(dict.fromkeys(key_rows))
        values = [
            python_values_to_proto_values([row[i] for row in distinct], value_type)
            for i, value_type in enumerate(read.key_types)
        ]
        entity_keys = [
            EntityKey(join_keys=read.stored_keys, entity_values=entity_values)
            for entity_values in zip(*values, strict=True)
        ]
        stored = self._provider.online_read(
            config=self._config,
            table=read.view,
            entity_keys=entity_keys,
            requested_features=list(read.features),
        )
        by_key: dict[tuple[Any, ...], list[Any]] = {}
        for key, (_, features) in zip(distinct, stored, strict=True):
            cells = features or {}
            by_key[key] = [
                _python(cells.get(name), value_type, feast_value_type_to_python_type)
                for name, value_type in zip(read.features, read.feature_types, strict=True)
            ]
        rows = [by_key[key] for key in key_rows]
        return {name: [row[i] for row in rows] for i, name in enumerate(read.features)}


def _values(column: Any) -> list[Any]:
    """A column's values as Python objects (an array's or a series' numpy scalars as plain
    numbers)."""
    return column.tolist() if isinstance(column, np.ndarray | pd.Series) else list(column)


def _python(value: Any, value_type: Any, convert: Any) -> Any:
    """A stored value as ``get_online_features(...).to_dict()`` gives it: None when absent."""
    return None if value is None else convert(value, value_type)


def _absent(value: Any) -> bool:
    """Whether one of Feast's values is missing (None or NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _missing(values: list[Any]) -> np.ndarray:
    """Which of Feast's values are missing (None or NaN); a list-valued cell never is."""
    cells = np.empty(len(values), dtype=object)
    for position, value in enumerate(values):
        cells[position] = value
    return pd.isna(cells)

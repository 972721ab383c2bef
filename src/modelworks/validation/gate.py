"""The data gate: turn a ValidationSpec into Great Expectations suites, run them, stop bad batches.

Great Expectations is imported inside functions only: importing it costs seconds, and most
modules that import this package (pipeline registries, CLIs) never validate anything.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelworks.io import SOURCE_ATTR
from modelworks.validation.spec import ColumnRule, TimestampOrderRule, ValidationSpec

SAMPLE_SIZE = 5

_INT_DTYPES = (
    *(f"int{b}" for b in (8, 16, 32, 64)),
    *(f"uint{b}" for b in (8, 16, 32, 64)),
    *(f"Int{b}" for b in (8, 16, 32, 64)),
    *(f"UInt{b}" for b in (8, 16, 32, 64)),
    *(f"int{b}[pyarrow]" for b in (8, 16, 32, 64)),
    *(f"uint{b}[pyarrow]" for b in (8, 16, 32, 64)),
)
_FLOAT_DTYPES = (
    "float16",
    "float32",
    "float64",
    "Float32",
    "Float64",
    "halffloat[pyarrow]",
    "float[pyarrow]",
    "double[pyarrow]",
)

# Dtype names accepted for each logical dtype. Names match ``str(series.dtype)`` exactly; a
# trailing "*" matches any suffix, so "datetime64[*" covers every unit and every time zone.
# The bare Python names ("int", "str", "Timestamp", ...) are what GX checks value by value
# when a column has the catch-all ``object`` dtype.
DTYPE_NAMES: dict[str, tuple[str, ...]] = {
    "int": ("int", *_INT_DTYPES),
    # Whole numbers are valid floats: a float column whose batch happens to hold only whole
    # numbers is read as int64, and that is not a reason to stop the line.
    "float": ("float", *_FLOAT_DTYPES, "int", *_INT_DTYPES),
    "string": ("str", "string", "large_string[pyarrow]", "category"),
    "bool": ("bool", "boolean", "bool[pyarrow]"),
    "datetime": ("Timestamp", "datetime64[*", "timestamp[*"),
}

_RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 20}


class DataValidationError(Exception):
    """A batch of data broke its declared rules; ``failures`` lists each broken rule."""

    def __init__(self, suite: str, failures: Sequence[Mapping[str, Any]]) -> None:
        self.suite = suite
        self.failures = list(failures)
        lines = "\n".join(f"  {describe_failure(f)}" for f in self.failures)
        super().__init__(
            f"Data validation {suite!r} failed: {len(self.failures)} rule(s) broken\n{lines}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Runners that execute nodes in worker processes pickle the exception back.
        return (type(self), (self.suite, self.failures))


def describe_failure(failure: Mapping[str, Any]) -> str:
    """One line a person can act on: where, which expectation, how many rows, which values."""
    head = f"{failure['table']}.{failure['column']}: {failure['expectation']} ({failure['rule']})"
    count = failure.get("unexpected_count")
    samples = [v for v in failure.get("sample_values", []) if v is not None]
    rows = failure.get("sample_rows") or []
    observed = failure.get("observed")
    if count is None:
        return f"{head} failed" + (f": {observed}" if observed else "")
    text = f"{head} failed for {count} row{'' if count == 1 else 's'}"
    if samples:
        text += f", e.g. {samples}"
    if rows:
        text += f" (rows {rows})"
    return text


def enforce_validation(report: Mapping[str, Any]) -> None:
    """Raise DataValidationError when the report from ``validate_tables`` did not succeed."""
    if not report["success"]:
        raise DataValidationError(report["suite"], report["failures"])


@dataclass(frozen=True)
class _Check:
    """What one expectation stands for, in the spec's terms."""

    table: str
    column: str
    rule: str
    # Columns of the validated frame to show for an offending row, when the values GX
    # reports (such as the nulls of a joined column) would not tell a person what to fix.
    sample_columns: tuple[str, ...] = ()


@dataclass
class _TableTally:
    rows: int
    evaluated: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "success": self.failed == 0,
            "evaluated": self.evaluated,
            "failed": self.failed,
        }


@dataclass
class _Run:
    """One gate run: a GX ephemeral context whose one dataframe asset yields a batch per frame."""

    gx: Any
    suite_name: str
    batch_definition: Any
    tallies: dict[str, _TableTally] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    _batches: dict[str, Any] = field(default_factory=dict)

    def validate(
        self,
        frame_name: str,
        frame: pd.DataFrame,
        checks: Sequence[tuple[Any, _Check]],
        row_labels: pd.Index | None = None,
    ) -> dict[str, bool]:
        """Run ``checks`` (expectation, meaning) on ``frame``; return success per check key.

        ``row_labels`` maps ``frame``'s rows back to the user's table when ``frame`` is derived.
        """
        if not checks:
            return {}
        batch = self._batches.get(frame_name)
        if batch is None:
            batch = self.batch_definition.get_batch(batch_parameters={"dataframe": frame})
            self._batches[frame_name] = batch
        suite = self.gx.ExpectationSuite(name=f"{self.suite_name}.{frame_name}")
        for index, (expectation, _) in enumerate(checks):
            expectation.meta = {"check": index}
            suite.add_expectation(expectation)
        result = batch.validate(suite, result_format=_RESULT_FORMAT)

        outcome: dict[str, bool] = {}
        found = sorted(
            ((r.expectation_config.meta["check"], r) for r in result.results),
            key=lambda pair: pair[0],
        )
        for index, evr in found:
            check = checks[index][1]
            tally = self.tallies[check.table]
            tally.evaluated += 1
            outcome[_key(evr.expectation_config.type, check.column)] = bool(evr.success)
            if not evr.success:
                tally.failed += 1
                self.failures.append(_failure(check, evr, frame, row_labels))
        return outcome


def _key(expectation_type: str, column: str) -> str:
    return f"{expectation_type}:{column}"


def validate_tables(
    tables: Mapping[str, pd.DataFrame], spec: ValidationSpec, *, suite_name: str
) -> dict[str, Any]:
    """Check ``tables`` against ``spec`` with Great Expectations; return a JSON-safe report.

    Column existence, dtype, nullability and uniqueness are checked first. Ranges and allowed
    values are checked only on columns that exist with the declared dtype, and a timestamp
    order rule only when all its columns passed, so one broken column yields one clear failure
    rather than a cascade of confusing ones.

    The report: ``suite``, ``success``, ``validated_at`` (ISO-8601, UTC),
    ``great_expectations_version``, ``tables`` (per table: ``rows``, ``success``, ``evaluated``,
    ``failed``, and ``source``: the file and content hash it was read from, when the dataset
    recorded one; cross-table rules count towards the table whose rows they judge) and
    ``failures``, each with ``table``, ``column``, ``expectation`` (GX type), ``rule``,
    ``unexpected_count`` (None for a verdict on the column as a whole), ``sample_values``
    (up to five distinct offending values), ``sample_rows`` (their index labels) and
    ``observed`` (what GX saw when there are no rows to show, else None).
    """
    absent = [name for name in spec.tables if name not in tables]
    if absent:
        raise ValueError(
            f"validation {suite_name!r}: no data passed for declared table(s) {absent}; "
            f"got {sorted(tables)}"
        )
    gx = _great_expectations()
    gxe = gx.expectations
    # One asset and batch definition serve every frame: each is handed in at get_batch time,
    # and each asset added would cost a round of context-config serialisation.
    asset = (
        _ephemeral_context(gx)
        .data_sources.add_pandas(name=suite_name)
        .add_dataframe_asset(name="frames")
    )
    run = _Run(
        gx=gx,
        suite_name=suite_name,
        batch_definition=asset.add_batch_definition_whole_dataframe(name="whole_frame"),
        tallies={name: _TableTally(rows=len(tables[name])) for name in spec.tables},
    )

    dtype_type = _dtype_expectation(gx).expectation_type
    typed: dict[str, set[str]] = {}
    for table, table_rule in spec.tables.items():
        frame = tables[table]
        checks: list[tuple[Any, _Check]] = []
        for column, rule in table_rule.columns.items():
            checks.append(
                (gxe.ExpectColumnToExist(column=column), _Check(table, column, "must exist"))
            )
            if column in frame.columns:
                checks.extend(_structure_checks(gx, table, column, rule))
        outcome = run.validate(table, frame, checks)
        typed[table] = {
            column for column in table_rule.columns if outcome.get(_key(dtype_type, column), False)
        }

    for table, table_rule in spec.tables.items():
        checks = [
            check
            for column, rule in table_rule.columns.items()
            if column in typed[table]
            for check in _value_checks(gx, table, column, rule)
        ]
        run.validate(table, tables[table], checks)

    for number, order in enumerate(spec.timestamp_order):
        needed = {
            order.table: (order.column, order.join_key),
            order.reference_table: (order.reference_column, order.join_key),
        }
        if all(column in typed[table] for table, columns in needed.items() for column in columns):
            joined, labels, checks = _order_checks(gx, order, tables)
            run.validate(f"timestamp_order_{number}", joined, checks, row_labels=labels)

    # Group failures by table, in the spec's order; within a table, checks run structure first.
    order_of = {name: position for position, name in enumerate(spec.tables)}
    run.failures.sort(key=lambda failure: order_of[failure["table"]])
    failed = sum(t.failed for t in run.tallies.values())
    return {
        "suite": suite_name,
        "success": failed == 0,
        "validated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "great_expectations_version": gx.__version__,
        "tables": {
            name: {**tally.as_dict(), "source": tables[name].attrs.get(SOURCE_ATTR)}
            for name, tally in run.tallies.items()
        },
        "failures": run.failures,
    }


def _structure_checks(
    gx: Any, table: str, column: str, rule: ColumnRule
) -> Iterable[tuple[Any, _Check]]:
    gxe = gx.expectations
    names = list(DTYPE_NAMES[rule.dtype])
    yield (
        _dtype_expectation(gx)(column=column, type_list=names),
        _Check(table, column, f"must be {rule.dtype}"),
    )
    if not rule.nullable:
        yield (
            gxe.ExpectColumnValuesToNotBeNull(column=column),
            _Check(table, column, "must not be null"),
        )
    if rule.unique:
        yield (
            gxe.ExpectColumnValuesToBeUnique(column=column),
            _Check(table, column, "must be unique"),
        )


def _value_checks(
    gx: Any, table: str, column: str, rule: ColumnRule
) -> Iterable[tuple[Any, _Check]]:
    gxe = gx.expectations
    if rule.min is not None or rule.max is not None:
        yield (
            gxe.ExpectColumnValuesToBeBetween(
                column=column, min_value=rule.min, max_value=rule.max
            ),
            _Check(table, column, _range_text(rule.min, rule.max)),
        )
    if rule.allowed is not None:
        yield (
            gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(rule.allowed)),
            _Check(table, column, f"must be in {_list_text(rule.allowed)}"),
        )


def _order_checks(
    gx: Any, order: TimestampOrderRule, tables: Mapping[str, pd.DataFrame]
) -> tuple[pd.DataFrame, pd.Index, list[tuple[Any, _Check]]]:
    """Left-join ``reference_table`` onto the rows of ``table`` that have a key.

    Returns the joined frame (positional index), the child's labels for its rows, and the
    checks. Rows without a key are left out: that is the nullable rule's business.
    """
    gxe = gx.expectations
    child = tables[order.table]
    reference = tables[order.reference_table]
    has_key = child[order.join_key].notna().to_numpy()
    keys = child[order.join_key][has_key]
    # A reference key that appears twice is judged by its latest timestamp, the strict reading;
    # duplicate keys are the uniqueness rule's business.
    latest = reference.groupby(order.join_key, sort=False)[order.reference_column].max()
    matched_label = f"{order.reference_table}.{order.join_key}"
    reference_label = f"{order.reference_table}.{order.reference_column}"
    # Series with a fresh positional index, not .to_numpy(): that would turn tz-aware
    # timestamps into an object array of Timestamp objects, one Python object per row.
    joined = pd.DataFrame(
        {
            order.join_key: keys,
            order.column: child[order.column][has_key],
            matched_label: keys.where(keys.isin(latest.index)),
            reference_label: keys.map(latest),
        }
    ).reset_index(drop=True)
    # Orphans are found as nulls in the joined key rather than with ExpectColumnValuesToBeInSet:
    # GX re-serialises an expectation's value_set many times per run, which with tens of
    # thousands of reference keys costs far more than the whole validation.
    orphan = _Check(
        order.table,
        order.join_key,
        f"must be a known {matched_label}, no orphan keys",
        sample_columns=(order.join_key,),
    )
    before = _Check(
        order.table,
        order.column,
        f"must be >= {reference_label} for the same {order.join_key}",
        sample_columns=(order.join_key, order.column, reference_label),
    )
    return (
        joined,
        child.index[has_key],
        [
            (gxe.ExpectColumnValuesToNotBeNull(column=matched_label), orphan),
            (
                gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A=order.column,
                    column_B=reference_label,
                    or_equal=True,
                    ignore_row_if="either_value_is_missing",
                ),
                before,
            ),
        ],
    )


def _failure(
    check: _Check, evr: Any, frame: pd.DataFrame, row_labels: pd.Index | None
) -> dict[str, Any]:
    """Turn a failed ExpectationValidationResult into the report's failure entry."""
    result: dict[str, Any] = evr.result or {}
    expectation = evr.expectation_config.type
    failure: dict[str, Any] = {
        "table": check.table,
        "column": check.column,
        "expectation": expectation,
        "rule": check.rule,
        "unexpected_count": _json_safe(result.get("unexpected_count")),
        "sample_values": [],
        "sample_rows": [],
        "observed": None,
    }
    exception = _exception_message(evr.exception_info)
    if exception:
        failure["observed"] = f"error while checking: {exception}"
        return failure
    if expectation == "expect_column_to_exist":
        failure["observed"] = f"column is missing; columns present: {list(map(str, frame.columns))}"
        return failure
    if "unexpected_count" not in result and "observed_value" in result:
        # Column-level verdict (a non-object dtype is wrong as a whole): no rows to sample.
        observed = str(result["observed_value"])
        failure["observed"] = f"observed dtype {observed}"
        if check.rule == "must be int" and observed.startswith("float"):
            failure["observed"] += " (pandas reads an int column with nulls as float; use Int64)"
        return failure

    rows = list(result.get("partial_unexpected_index_list") or [])
    if check.sample_columns and rows:
        shown = frame.loc[rows, list(check.sample_columns)]
        raw = shown.iloc[:, 0] if len(check.sample_columns) == 1 else shown.to_dict("records")
        samples = _distinct(_json_safe(v) for v in raw)
    else:
        samples = _distinct(_json_safe(v) for v in result.get("partial_unexpected_list") or [])
    failure["sample_values"] = samples[:SAMPLE_SIZE]
    rows = rows[:SAMPLE_SIZE]
    if row_labels is not None:
        rows = [row_labels[r] for r in rows]
    failure["sample_rows"] = [_json_safe(r) for r in rows]
    return failure


def _exception_message(info: Any) -> str | None:
    """GX reports exceptions either flat or keyed by metric; find the first message."""
    if not isinstance(info, Mapping):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for value in info.values():
        if isinstance(value, Mapping) and value.get("raised_exception"):
            return str(value.get("exception_message"))
    return None


def _distinct(values: Iterable[Any]) -> list[Any]:
    seen: list[Any] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def _json_safe(value: Any) -> Any:
    """Make a value from a dataframe JSON-safe: timestamps as ISO strings, missing as None."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.datetime64 | np.timedelta64):
        value = pd.Timestamp(value) if isinstance(value, np.datetime64) else pd.Timedelta(value)
    elif isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, pd.Timedelta | dt.timedelta):
        return str(value)
    return str(value)


def _number_text(value: float) -> str:
    return f"{value:g}"


def _range_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"must be in [{_number_text(low)}, {_number_text(high)}]"
    if low is not None:
        return f"must be >= {_number_text(low)}"
    assert high is not None
    return f"must be <= {_number_text(high)}"


def _list_text(values: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(values[:limit])
    return f"[{shown}, ... {len(values) - limit} more]" if len(values) > limit else f"[{shown}]"


def _great_expectations() -> Any:
    """Import GX on first use, with its usage statistics off."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    return gx


def _ephemeral_context(gx: Any) -> Any:
    """An in-memory GX context: nothing written to disk, no progress bars, no analytics."""
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    return gx.get_context(mode="ephemeral", project_config=config)


@functools.cache
def _dtype_expectation(gx: Any) -> Any:
    """ExpectColumnValuesToBeInTypeList that also understands pandas dtype names.

    GX 1.x resolves a type name through numpy (so "int64" works) but cannot name a tz-aware
    datetime ("datetime64[ns, UTC]"), a nullable extension dtype ("Int64") or a pyarrow one:
    those columns would always fail. This subclass also accepts a column whose
    ``str(dtype)`` is in the list, or starts with an entry ending in "*". Columns of the
    ``object`` dtype are still checked value by value by GX itself. Defined on first use
    because defining an Expectation registers it with GX, which needs GX imported.
    """

    class ExpectColumnValuesToBeInDtypeList(gx.expectations.ExpectColumnValuesToBeInTypeList):
        def _validate_pandas(
            self, actual_column_type: Any, expected_types_list: list[str] | None
        ) -> dict[str, Any]:
            result: dict[str, Any] = super()._validate_pandas(
                actual_column_type=actual_column_type, expected_types_list=expected_types_list
            )
            name = str(actual_column_type)
            if expected_types_list is not None and not result["success"]:
                result["success"] = any(
                    name.startswith(entry[:-1]) if entry.endswith("*") else name == entry
                    for entry in expected_types_list
                )
            result["result"] = {"observed_value": name}
            return result

    return ExpectColumnValuesToBeInDtypeList

"""Great Expectations expectations for a ValidationSpec's rules, and the GX plumbing they need.

Each rule becomes an expectation paired with a ``Check``: what it stands for in the spec's
terms (table, column, the rule in words), which is how the gate reports a failure. Great
Expectations is imported inside functions only (see ``modelworks.validation.gate``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from modelworks.validation.spec import ColumnRule, LabelMaturityRule, TimestampOrderRule

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


@dataclass(frozen=True)
class Check:
    """What one expectation stands for, in the spec's terms."""

    table: str
    column: str
    rule: str
    # Columns of the validated frame to show for an offending row, when the values GX
    # reports (such as the nulls of a joined column) would not tell a person what to fix.
    sample_columns: tuple[str, ...] = ()


def structure_checks(
    gx: Any, table: str, column: str, rule: ColumnRule
) -> Iterable[tuple[Any, Check]]:
    gxe = gx.expectations
    names = list(DTYPE_NAMES[rule.dtype])
    yield (
        dtype_expectation(gx)(column=column, type_list=names),
        Check(table, column, f"must be {rule.dtype}"),
    )
    if not rule.nullable:
        yield (
            gxe.ExpectColumnValuesToNotBeNull(column=column),
            Check(table, column, "must not be null"),
        )
    if rule.unique:
        yield (
            gxe.ExpectColumnValuesToBeUnique(column=column),
            Check(table, column, "must be unique"),
        )


ROWS = "(rows)"
"""The ``column`` of a check on the table as a whole."""


def row_count_check(gx: Any, table: str, min_rows: int) -> tuple[Any, Check]:
    return (
        gx.expectations.ExpectTableRowCountToBeBetween(min_value=min_rows),
        Check(table, ROWS, f"must hold at least {min_rows} row{'' if min_rows == 1 else 's'}"),
    )


def value_checks(
    gx: Any, table: str, column: str, rule: ColumnRule, frame: pd.DataFrame, clock: datetime
) -> Iterable[tuple[Any, Check]]:
    """Ranges, allowed values, the clock and the number of distinct values of a typed column."""
    gxe = gx.expectations
    if rule.min is not None or rule.max is not None:
        yield (
            gxe.ExpectColumnValuesToBeBetween(
                column=column, min_value=rule.min, max_value=rule.max
            ),
            Check(table, column, _range_text(rule.min, rule.max)),
        )
    if rule.allowed is not None:
        yield (
            gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(rule.allowed)),
            Check(table, column, f"must be in {_list_text(rule.allowed)}"),
        )
    if rule.not_in_future:
        yield (
            gxe.ExpectColumnValuesToBeBetween(
                column=column, max_value=_like_column(clock, frame[column])
            ),
            Check(table, column, f"must not be after the run's clock ({_time_text(clock)})"),
        )
    if rule.min_distinct is not None:
        yield (
            gxe.ExpectColumnUniqueValueCountToBeBetween(column=column, min_value=rule.min_distinct),
            Check(table, column, f"must hold at least {rule.min_distinct} distinct values"),
        )


def maturity_checks(
    gx: Any, rule: LabelMaturityRule, frame: pd.DataFrame, clock: datetime
) -> tuple[pd.DataFrame, pd.Index, list[tuple[Any, Check]]]:
    """The rows of ``rule.table`` whose label is set, with the time their label matures.

    Returns that frame (positional index), the table's labels for its rows, and the check.
    """
    labelled = frame[rule.label].notna() & frame[rule.column].notna()
    matures = f"{rule.column} + {rule.after_days:g} days"
    derived = pd.DataFrame(
        {
            rule.column: frame.loc[labelled, rule.column],
            rule.label: frame.loc[labelled, rule.label],
            matures: frame.loc[labelled, rule.column] + pd.Timedelta(days=rule.after_days),
        }
    ).reset_index(drop=True)
    check = Check(
        rule.table,
        rule.label,
        f"may be set only once {matures} has passed by the run's clock ({_time_text(clock)})",
        sample_columns=(rule.column,),
    )
    expectation = gx.expectations.ExpectColumnValuesToBeBetween(
        column=matures, max_value=_like_column(clock, derived[matures])
    )
    return derived, frame.index[labelled.to_numpy()], [(expectation, check)]


def _like_column(clock: datetime, values: pd.Series) -> datetime:
    """The clock as the column holds time: zone-aware in UTC, or naive UTC."""
    if getattr(values.dtype, "tz", None) is None:
        return pd.Timestamp(clock).tz_convert("UTC").tz_localize(None).to_pydatetime()
    return clock


def _time_text(clock: datetime) -> str:
    return pd.Timestamp(clock).tz_convert("UTC").isoformat(timespec="seconds")


def order_checks(
    gx: Any, order: TimestampOrderRule, tables: Mapping[str, pd.DataFrame]
) -> tuple[pd.DataFrame, pd.Index, list[tuple[Any, Check]]]:
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
    orphan = Check(
        order.table,
        order.join_key,
        f"must be a known {matched_label}, no orphan keys",
        sample_columns=(order.join_key,),
    )
    before = Check(
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


def great_expectations() -> Any:
    """Import GX on first use, with its usage statistics off."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    return gx


def ephemeral_context(gx: Any) -> Any:
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
def dtype_expectation(gx: Any) -> Any:
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

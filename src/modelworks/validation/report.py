"""What the gate reports: one failure entry per broken rule, and the error that stops a batch."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from modelworks.validation.expectations import Check

SAMPLE_SIZE = 5


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
        text = f"{head} failed" + (f": {observed}" if observed else "")
        return text + (f", e.g. {samples}" if samples else "")
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


def failure_entry(
    check: Check, evr: Any, frame: pd.DataFrame, row_labels: pd.Index | None
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
        # A verdict on the column or table as a whole (a non-object dtype, a row count, a
        # number of distinct values): no rows to sample.
        observed = str(result["observed_value"])
        if expectation == "expect_table_row_count_to_be_between":
            failure["observed"] = f"{observed} rows"
            return failure
        if expectation == "expect_column_unique_value_count_to_be_between":
            failure["observed"] = f"{observed} distinct value{'' if observed == '1' else 's'}"
            values = frame[check.column].dropna().unique()[:SAMPLE_SIZE]
            failure["sample_values"] = [_json_safe(v) for v in values]
            return failure
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

"""The data gate on tiny frames: clean data passes, each kind of bad data is stopped and named."""

from __future__ import annotations

import ast
import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from modelworks import validation
from modelworks.validation import (
    DataValidationError,
    ValidationSpec,
    enforce_validation,
    validate_tables,
)

Tables = dict[str, pd.DataFrame]

SPEC: dict[str, Any] = {
    "tables": {
        "loans": {
            "columns": {
                "loan_id": {"dtype": "int", "nullable": False, "unique": True},
                "amount": {"dtype": "float", "nullable": False, "min": 10, "max": 5000},
                "status": {"dtype": "string", "allowed": ["open", "closed"]},
                "applied_at": {"dtype": "datetime", "nullable": False, "not_in_future": True},
                "defaulted": {"dtype": "int", "min_distinct": 2},
            }
        },
        "repayments": {
            "columns": {
                "repayment_id": {"dtype": "int", "nullable": False, "unique": True},
                "loan_id": {"dtype": "int", "nullable": False},
                "paid_at": {"dtype": "datetime", "nullable": False},
            }
        },
    },
    "timestamp_order": [
        {
            "table": "repayments",
            "column": "paid_at",
            "reference_table": "loans",
            "reference_column": "applied_at",
            "join_key": "loan_id",
        }
    ],
    "label_maturity": [
        {"table": "loans", "label": "defaulted", "column": "applied_at", "after_days": 30}
    ],
    # Loans 1-3 are old enough to carry their label on the run's clock, loan 4 is not.
    "as_of": "2024-03-15T00:00:00Z",
}


@pytest.fixture(scope="module")
def spec() -> ValidationSpec:
    return ValidationSpec.model_validate(SPEC)


def clean_tables() -> Tables:
    loans = pd.DataFrame(
        {
            # Loan 4 has no repayments yet, so breaking its key orphans nothing.
            "loan_id": [1, 2, 3, 4],
            "amount": [100.0, 250.5, 4000.0, 10.0],
            "status": ["open", "closed", "open", None],
            "applied_at": pd.to_datetime(
                ["2024-01-01", "2024-01-05", "2024-02-01", "2024-03-01"], utc=True
            ),
            "defaulted": pd.array([0, 1, 0, None], dtype="Int64"),
        }
    )
    repayments = pd.DataFrame(
        {
            "repayment_id": [10, 11, 12, 13],
            "loan_id": [1, 1, 2, 3],
            "paid_at": pd.to_datetime(
                ["2024-01-01", "2024-02-01", "2024-01-06", "2024-03-01"], utc=True
            ),
        },
        index=["r10", "r11", "r12", "r13"],
    )
    return {"loans": loans, "repayments": repayments}


@pytest.fixture(scope="module")
def clean_report(spec: ValidationSpec) -> dict[str, Any]:
    return validate_tables(clean_tables(), spec, suite_name="loans_raw")


def test_clean_tables_pass(clean_report: dict[str, Any]) -> None:
    assert clean_report["success"] is True
    assert clean_report["failures"] == []
    assert clean_report["suite"] == "loans_raw"
    assert clean_report["tables"]["loans"]["rows"] == 4
    assert clean_report["tables"]["repayments"]["rows"] == 4
    for summary in clean_report["tables"].values():
        assert summary["success"] is True
        assert summary["evaluated"] > 0
        assert summary["failed"] == 0
    enforce_validation(clean_report)  # does not raise


def test_report_is_json_and_dated_in_utc(clean_report: dict[str, Any]) -> None:
    assert json.loads(json.dumps(clean_report, allow_nan=False)) == clean_report
    assert clean_report["validated_at"].endswith("+00:00")
    assert clean_report["great_expectations_version"].startswith("1.")


def _set(table: str, column: str, values: list[Any]) -> Callable[[Tables], None]:
    def change(tables: Tables) -> None:
        tables[table][column] = values

    return change


def _drop(table: str, column: str) -> Callable[[Tables], None]:
    def change(tables: Tables) -> None:
        tables[table] = tables[table].drop(columns=[column])

    return change


# (breakage, table, column, expectation, sample values the report and the error must show)
BROKEN = {
    "missing column": (
        _drop("loans", "amount"),
        "loans",
        "amount",
        "expect_column_to_exist",
        [],
        [],
    ),
    "wrong dtype": (
        _set("loans", "amount", ["100", "abc", "4000", "10"]),
        "loans",
        "amount",
        "expect_column_values_to_be_in_dtype_list",
        ["100", "abc", "4000", "10"],
        [0, 1, 2, 3],
    ),
    "null key": (
        _set("loans", "loan_id", pd.array([1, 2, 3, None], dtype="Int64")),
        "loans",
        "loan_id",
        "expect_column_values_to_not_be_null",
        [None],
        [3],
    ),
    "duplicate key": (
        _set("loans", "loan_id", [1, 2, 3, 3]),
        "loans",
        "loan_id",
        "expect_column_values_to_be_unique",
        [3],
        [2, 3],
    ),
    "out of range": (
        _set("loans", "amount", [-5.0, 250.5, 99999.0, 10.0]),
        "loans",
        "amount",
        "expect_column_values_to_be_between",
        [-5.0, 99999.0],
        [0, 2],
    ),
    "unknown category": (
        _set("loans", "status", ["open", "zz", "open", None]),
        "loans",
        "status",
        "expect_column_values_to_be_in_set",
        ["zz"],
        [1],
    ),
    "repayment before application": (
        _set(
            "repayments",
            "paid_at",
            pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-04", "2024-03-01"], utc=True),
        ),
        "repayments",
        "paid_at",
        "expect_column_pair_values_a_to_be_greater_than_b",
        [
            {
                "loan_id": 2,
                "paid_at": "2024-01-04T00:00:00+00:00",
                "loans.applied_at": "2024-01-05T00:00:00+00:00",
            }
        ],
        ["r12"],
    ),
    "orphan key": (
        _set("repayments", "loan_id", [1, 1, 2, 99]),
        "repayments",
        "loan_id",
        "expect_column_values_to_not_be_null",
        [99],
        ["r13"],
    ),
    "empty table": (
        lambda tables: tables.update(repayments=tables["repayments"].iloc[:0]),
        "repayments",
        "(rows)",
        "expect_table_row_count_to_be_between",
        [],
        [],
    ),
    "timestamp after the run's clock": (
        _set(
            "loans",
            "applied_at",
            pd.to_datetime(["2024-01-01", "2024-01-05", "2024-02-01", "2031-03-01"], utc=True),
        ),
        "loans",
        "applied_at",
        "expect_column_values_to_be_between",
        ["2031-03-01T00:00:00+00:00"],
        [3],
    ),
    "label too young to be known": (
        _set("loans", "defaulted", pd.array([0, 1, 0, 1], dtype="Int64")),
        "loans",
        "defaulted",
        "expect_column_values_to_be_between",
        ["2024-03-01T00:00:00+00:00"],
        [3],
    ),
    "label with one class": (
        _set("loans", "defaulted", pd.array([0, 0, 0, None], dtype="Int64")),
        "loans",
        "defaulted",
        "expect_column_unique_value_count_to_be_between",
        [0],
        [],
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_data_is_stopped_and_named(spec: ValidationSpec, case: str) -> None:
    change, table, column, expectation, samples, rows = BROKEN[case]
    tables = clean_tables()
    change(tables)

    report = validate_tables(tables, spec, suite_name="loans_raw")

    assert report["success"] is False
    assert report["tables"][table]["success"] is False
    # One broken thing, one failure: no cascade from rules that depend on the broken column.
    [failure] = report["failures"]
    assert (failure["table"], failure["column"], failure["expectation"]) == (
        table,
        column,
        expectation,
    )
    assert failure["sample_values"] == samples
    assert failure["sample_rows"] == rows
    json.dumps(report, allow_nan=False)

    with pytest.raises(DataValidationError) as raised:
        enforce_validation(report)
    assert raised.value.failures == report["failures"]
    message = str(raised.value)
    assert f"{table}.{column}: {expectation}" in message
    for value in samples:
        if value is not None:
            assert repr(value) in message
    if rows:
        assert f"(rows {rows})" in message


def test_messages_say_what_to_fix(spec: ValidationSpec) -> None:
    tables = clean_tables()
    tables["loans"]["amount"] = [-5.0, 250.5, 99999.0, 10.0]
    tables["loans"]["loan_id"] = pd.array([1, 2, 3, None], dtype="Int64")
    tables["repayments"]["loan_id"] = [1, 1, 2, 99]
    tables["repayments"] = tables["repayments"].drop(columns=["paid_at"])

    with pytest.raises(DataValidationError) as raised:
        enforce_validation(validate_tables(tables, spec, suite_name="loans_raw"))

    lines = str(raised.value).splitlines()[1:]
    assert [line.strip() for line in lines] == [
        "loans.loan_id: expect_column_values_to_not_be_null (must not be null) "
        "failed for 1 row (rows [3])",
        "loans.amount: expect_column_values_to_be_between (must be in [10, 5000]) "
        "failed for 2 rows, e.g. [-5.0, 99999.0] (rows [0, 2])",
        "repayments.paid_at: expect_column_to_exist (must exist) "
        "failed: column is missing; columns present: ['repayment_id', 'loan_id']",
    ]


def test_new_batch_rules_say_what_was_observed(spec: ValidationSpec) -> None:
    tables = clean_tables()
    tables["repayments"] = tables["repayments"].iloc[:0]
    tables["loans"]["defaulted"] = pd.array([1, 1, 1, None], dtype="Int64")
    tables["loans"]["applied_at"] = pd.to_datetime(
        ["2024-01-01", "2024-01-05", "2024-02-01", "2030-06-01"], utc=True
    )

    with pytest.raises(DataValidationError) as raised:
        enforce_validation(validate_tables(tables, spec, suite_name="loans_raw"))

    lines = str(raised.value).splitlines()[1:]
    assert [line.strip() for line in lines] == [
        "loans.applied_at: expect_column_values_to_be_between (must not be after the run's "
        "clock (2024-03-15T00:00:00+00:00)) failed for 1 row, "
        "e.g. ['2030-06-01T00:00:00+00:00'] (rows [3])",
        "loans.defaulted: expect_column_unique_value_count_to_be_between (must hold at least "
        "2 distinct values) failed: 1 distinct value, e.g. [1]",
        "repayments.(rows): expect_table_row_count_to_be_between (must hold at least 1 row) "
        "failed: 0 rows",
    ]


def test_the_clock_is_the_time_of_the_run_unless_set() -> None:
    unset = ValidationSpec.model_validate({**SPEC, "as_of": None})
    report = validate_tables(clean_tables(), unset, suite_name="s")
    assert pd.Timestamp(report["as_of"]) > pd.Timestamp("2026-01-01", tz="UTC")
    # on today's clock every labelled loan is mature and none is in the future
    assert report["failures"] == []
    with pytest.raises(ValidationError, match="timezone"):
        ValidationSpec.model_validate({**SPEC, "as_of": "2024-03-15T00:00:00"})


def test_time_rules_must_name_datetime_columns() -> None:
    with pytest.raises(ValidationError, match="not_in_future applies to datetime"):
        ValidationSpec.model_validate(
            {"tables": {"t": {"columns": {"c": {"dtype": "int", "not_in_future": True}}}}}
        )
    bad = json.loads(json.dumps(SPEC))
    bad["label_maturity"][0]["column"] = "amount"
    with pytest.raises(ValidationError, match=r"loans\.amount, which must be a datetime"):
        ValidationSpec.model_validate(bad)
    bad["label_maturity"][0]["column"] = "due_at"
    with pytest.raises(ValidationError, match=r"loans\.due_at, which is not declared"):
        ValidationSpec.model_validate(bad)


def test_int_column_read_as_float_gets_a_hint(spec: ValidationSpec) -> None:
    tables = clean_tables()
    tables["loans"]["loan_id"] = [1.0, 2.0, 3.0, None]  # what read_csv makes of an int with a gap

    report = validate_tables(tables, spec, suite_name="s")

    by_expectation = {f["expectation"]: f for f in report["failures"]}
    dtype_failure = by_expectation["expect_column_values_to_be_in_dtype_list"]
    assert dtype_failure["unexpected_count"] is None
    assert "float64" in dtype_failure["observed"]
    assert "Int64" in dtype_failure["observed"]


def test_logical_dtypes_accept_pandas_variants() -> None:
    naive = pd.to_datetime(["2024-01-01", "2024-01-02"])
    frame = pd.DataFrame(
        {
            "i64": [1, 2],
            "i_nullable": pd.array([1, None], dtype="Int64"),
            "u8": pd.Series([1, 2], dtype="uint8"),
            "f32": pd.Series([1.5, None], dtype="float32"),
            "f_from_int": [1, 2],
            "s_object": ["a", None],
            "s_string": pd.array(["a", None], dtype="string"),
            "s_category": pd.Categorical(["a", "b"]),
            "b": [True, False],
            "b_nullable": pd.array([True, None], dtype="boolean"),
            "t_naive": naive,
            "t_us": naive.astype("datetime64[us]"),
            "t_utc": naive.tz_localize("UTC"),
            "t_berlin": naive.tz_localize("Europe/Berlin").astype("datetime64[ms, Europe/Berlin]"),
        }
    )
    logical = {"i": "int", "u": "int", "f": "float", "s": "string", "b": "bool", "t": "datetime"}
    columns = {name: {"dtype": logical[name[0]]} for name in frame.columns}
    spec = ValidationSpec.model_validate({"tables": {"t": {"columns": columns}}})

    report = validate_tables({"t": frame}, spec, suite_name="dtypes")

    assert report["failures"] == []


def test_logical_dtypes_reject_other_dtypes() -> None:
    frame = pd.DataFrame(
        {
            "int_as_float": [1.5, 2.0],
            "string_as_int": [1, 2],
            "datetime_as_string": ["2024-01-01", "2024-01-02"],
            "bool_as_int": [0, 1],
        }
    )
    declared = {
        "int_as_float": "int",
        "string_as_int": "string",
        "datetime_as_string": "datetime",
        "bool_as_int": "bool",
    }
    spec = ValidationSpec.model_validate(
        {"tables": {"t": {"columns": {c: {"dtype": d} for c, d in declared.items()}}}}
    )

    report = validate_tables({"t": frame}, spec, suite_name="dtypes")

    assert sorted(f["column"] for f in report["failures"]) == sorted(declared)
    observed = {f["column"]: (f["observed"], f["sample_values"]) for f in report["failures"]}
    assert observed["string_as_int"][0] == "observed dtype int64"
    assert observed["datetime_as_string"][1] == ["2024-01-01", "2024-01-02"]


def test_misspelt_spec_key_is_rejected_with_its_name() -> None:
    bad = json.loads(json.dumps(SPEC))
    bad["tables"]["loans"]["columns"]["loan_id"]["nulable"] = False

    with pytest.raises(ValidationError, match="nulable"):
        ValidationSpec.model_validate(bad)


def test_order_rule_must_name_declared_columns() -> None:
    bad = json.loads(json.dumps(SPEC))
    bad["timestamp_order"][0]["reference_column"] = "applied"

    with pytest.raises(ValidationError, match=r"loans\.applied"):
        ValidationSpec.model_validate(bad)


def test_rules_that_cannot_apply_are_rejected() -> None:
    with pytest.raises(ValidationError, match="min/max"):
        ValidationSpec.model_validate(
            {"tables": {"t": {"columns": {"c": {"dtype": "string", "min": 1}}}}}
        )
    with pytest.raises(ValidationError, match="greater than max"):
        ValidationSpec.model_validate(
            {"tables": {"t": {"columns": {"c": {"dtype": "int", "min": 5, "max": 1}}}}}
        )


def test_missing_table_is_a_wiring_error(spec: ValidationSpec) -> None:
    with pytest.raises(ValueError, match="repayments"):
        validate_tables({"loans": clean_tables()["loans"]}, spec, suite_name="s")


def test_error_survives_pickling() -> None:
    failure = {
        "table": "t",
        "column": "c",
        "expectation": "expect_column_values_to_be_unique",
        "rule": "must be unique",
        "unexpected_count": 2,
        "sample_values": [1],
        "sample_rows": [0, 1],
        "observed": None,
    }
    error = pickle.loads(pickle.dumps(DataValidationError("s", [failure])))
    assert error.failures == [failure]
    assert "t.c: expect_column_values_to_be_unique" in str(error)


def test_great_expectations_is_not_imported_at_module_level() -> None:
    # Importing GX takes seconds; pipeline registries import this package without validating.
    for module in Path(validation.__file__).parent.glob("*.py"):
        for node in ast.parse(module.read_text()).body:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(name.startswith("great_expectations") for name in names), module

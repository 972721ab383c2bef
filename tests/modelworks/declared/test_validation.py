"""The Great Expectations suite a declaration implies: its tables' column rules."""

from __future__ import annotations

import pandas as pd

from modelworks.declared.schema import DeclaredSpec
from modelworks.validation import validate_tables


def test_the_derived_suite_passes_good_tables_and_names_a_bad_value(
    spec: DeclaredSpec, flights: pd.DataFrame, weather: pd.DataFrame, planes: pd.DataFrame
) -> None:
    tables = {"flights": flights, "weather": weather, "planes": planes}
    assert validate_tables(tables, spec.validation(), suite_name="raw_tables")["success"]

    bad = flights.copy()
    bad.loc[bad.index[0], "origin"] = "BOS"
    report = validate_tables(
        {**tables, "flights": bad, "planes": planes.drop(columns="seats")},
        spec.validation(),
        suite_name="raw_tables",
    )
    assert report["success"] is False
    failures = {(f["table"], f["column"]): f for f in report["failures"]}
    assert set(failures) == {("flights", "origin"), ("planes", "seats")}
    assert failures[("flights", "origin")]["sample_values"] == ["BOS"]
    assert "expect_column_values_to_be_in_set" in failures[("flights", "origin")]["expectation"]

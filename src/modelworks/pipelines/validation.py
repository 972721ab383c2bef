"""Great Expectations gate: validate raw tables, save the report, stop the line on failure."""

from __future__ import annotations

from typing import Any

import pandas as pd
from kedro.pipeline import Pipeline, node

from modelworks.validation import ValidationSpec, enforce_validation, validate_tables


def validate_raw_tables(spec: ValidationSpec, **tables: pd.DataFrame) -> dict[str, Any]:
    """Run the declared expectations over every raw table; returns the report, pass or fail."""
    return validate_tables(tables, spec, suite_name="raw_tables")


def enforce_validation_gate(
    report: dict[str, Any], **tables: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """Pass the tables on only if validation passed; otherwise raise, naming every failure."""
    enforce_validation(report)
    return tables


def validation_pipeline(tables: list[str]) -> Pipeline:
    """``raw_<t>`` -> ``validation_report`` (saved before the gate) -> ``validated_<t>``."""
    raw = {t: f"raw_{t}" for t in tables}
    return Pipeline(
        [
            node(
                validate_raw_tables,
                inputs={"spec": "params:validation", **raw},
                outputs="validation_report",
                name="validate_raw_tables",
            ),
            node(
                enforce_validation_gate,
                inputs={"report": "validation_report", **raw},
                outputs={t: f"validated_{t}" for t in tables},
                name="enforce_validation_gate",
            ),
        ]
    )

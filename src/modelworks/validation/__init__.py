"""Data validation: declarative rules (spec) checked by Great Expectations (gate)."""

from modelworks.validation.gate import (
    DataValidationError,
    describe_failure,
    enforce_validation,
    validate_tables,
)
from modelworks.validation.spec import (
    ColumnRule,
    LabelMaturityRule,
    TableRule,
    TimestampOrderRule,
    ValidationSpec,
)

__all__ = [
    "ColumnRule",
    "DataValidationError",
    "LabelMaturityRule",
    "TableRule",
    "TimestampOrderRule",
    "ValidationSpec",
    "describe_failure",
    "enforce_validation",
    "validate_tables",
]

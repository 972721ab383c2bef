"""Declarative data rules as use cases write them in conf/: tables, columns, cross-table order."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from modelworks.params import StrictModel

LogicalDtype = Literal["int", "float", "string", "bool", "datetime"]


class ColumnRule(StrictModel):
    """What one column must look like; every declared column must exist."""

    dtype: LogicalDtype
    nullable: bool = True
    unique: bool = False
    min: float | None = None
    max: float | None = None
    allowed: list[str] | None = None

    @model_validator(mode="after")
    def _check_rule_fits_dtype(self) -> ColumnRule:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if (self.min is not None or self.max is not None) and self.dtype not in ("int", "float"):
            raise ValueError(f"min/max apply to int and float columns, not to {self.dtype!r}")
        if self.allowed is not None and self.dtype != "string":
            raise ValueError(f"allowed applies to string columns, not to {self.dtype!r}")
        return self


class TableRule(StrictModel):
    """The columns a table must have, each with its rule."""

    columns: dict[str, ColumnRule]


class TimestampOrderRule(StrictModel):
    """``table.column`` must not precede ``reference_table.reference_column`` for the same key.

    E.g. ``repayments.paid_at >= loans.applied_at`` matched on ``loan_id``; a key in ``table``
    with no row in ``reference_table`` is an orphan and fails too.
    """

    table: str
    column: str
    reference_table: str
    reference_column: str
    join_key: str


class ValidationSpec(StrictModel):
    """All rules for one gate."""

    tables: dict[str, TableRule]
    timestamp_order: list[TimestampOrderRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_order_tables(self) -> ValidationSpec:
        # Every column an order rule touches must be declared, so that its existence and dtype
        # are checked (and reported) before the order itself is.
        for rule in self.timestamp_order:
            for table, columns in (
                (rule.table, (rule.column, rule.join_key)),
                (rule.reference_table, (rule.reference_column, rule.join_key)),
            ):
                if table not in self.tables:
                    raise ValueError(
                        f"timestamp_order refers to table {table!r}, which is not under tables"
                    )
                undeclared = [c for c in columns if c not in self.tables[table].columns]
                if undeclared:
                    raise ValueError(
                        f"timestamp_order refers to {table}.{undeclared[0]}, "
                        f"which is not declared under tables.{table}.columns"
                    )
        return self

"""Declarative data rules as use cases write them in conf/: tables, columns, cross-table order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

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
    not_in_future: bool = False
    """A datetime that must not be after the run's clock (``ValidationSpec.as_of``)."""
    min_distinct: int | None = Field(default=None, ge=1)
    """At least this many distinct values: a label with one class teaches nothing."""

    @model_validator(mode="after")
    def _check_rule_fits_dtype(self) -> ColumnRule:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if (self.min is not None or self.max is not None) and self.dtype not in ("int", "float"):
            raise ValueError(f"min/max apply to int and float columns, not to {self.dtype!r}")
        if self.allowed is not None and self.dtype != "string":
            raise ValueError(f"allowed applies to string columns, not to {self.dtype!r}")
        if self.not_in_future and self.dtype != "datetime":
            raise ValueError(f"not_in_future applies to datetime columns, not to {self.dtype!r}")
        return self


class TableRule(StrictModel):
    """The columns a table must have, each with its rule, and how few rows it may hold."""

    columns: dict[str, ColumnRule]
    min_rows: int = Field(default=1, ge=0)
    """An empty table is a broken extract, not a quiet week: say ``min_rows: 0`` if it is not."""


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


class LabelMaturityRule(StrictModel):
    """A row may carry ``label`` only once its outcome can be known: ``after_days`` past
    ``column`` by the run's clock. E.g. a loan's default label, 30 days after ``due_at``; a
    younger row with a label set is a label from the future."""

    table: str
    label: str
    column: str
    after_days: float = Field(ge=0)


class ValidationSpec(StrictModel):
    """All rules for one gate, and the clock they are judged by."""

    tables: dict[str, TableRule]
    timestamp_order: list[TimestampOrderRule] = Field(default_factory=list)
    label_maturity: list[LabelMaturityRule] = Field(default_factory=list)
    as_of: AwareDatetime | None = None
    """The run's clock for ``not_in_future`` and ``label_maturity``; unset, the time of the run.
    Set it (``kedro run --params <use_case>.validation.as_of=...``) to replay a past day."""

    def clock(self) -> datetime:
        """The time the rules are judged at."""
        return self.as_of or datetime.now(UTC)

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
        for maturity in self.label_maturity:
            table_rule = self.tables.get(maturity.table)
            if table_rule is None:
                raise ValueError(
                    f"label_maturity refers to table {maturity.table!r}, which is not under tables"
                )
            for column in (maturity.label, maturity.column):
                if column not in table_rule.columns:
                    raise ValueError(
                        f"label_maturity refers to {maturity.table}.{column}, "
                        f"which is not declared under tables.{maturity.table}.columns"
                    )
            if table_rule.columns[maturity.column].dtype != "datetime":
                raise ValueError(
                    f"label_maturity counts from {maturity.table}.{maturity.column}, "
                    "which must be a datetime column"
                )
        return self

"""The ``declared:`` block: a tabular use case's data, entity rows and Feast views, in YAML.

Everything else the framework needs (Great Expectations rules, Feast objects and service, the
model's feature list, scoring ids, the registered model's name) is derived from it; see
``modelworks.declared.params`` for the whole parameter block of a declared use case.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator

from modelworks.params import StrictModel
from modelworks.training import FeatureSpec
from modelworks.validation import ColumnRule, TableRule, TimestampOrderRule, ValidationSpec

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
CalendarPart = Literal["hour", "day_of_week", "day_of_month", "month", "day_of_year"]
AggregationFunction = Literal["count", "sum", "mean", "max", "min"]
NUMERIC = ("int", "float", "bool")


def _check_names(names: list[str], what: str) -> None:
    bad = [name for name in names if not NAME.match(name)]
    if bad:
        raise ValueError(f"{what} must be lower_snake_case names (they name datasets); got {bad}")


class SourceTable(StrictModel):
    """A raw table: ``path`` in the project (or any fsspec URL), or a file shipped inside the
    installed Python ``package``; parquet or CSV (told by the name unless ``format``).

    ``columns`` are the table's Great Expectations rules and the dtypes everything downstream
    reads; ``datetime`` columns are parsed as UTC on load.
    """

    path: str
    package: str | None = None
    format: Literal["parquet", "csv"] | None = None
    columns: dict[str, ColumnRule] = Field(min_length=1)

    @property
    def timestamps(self) -> list[str]:
        return [name for name, rule in self.columns.items() if rule.dtype == "datetime"]


class Sample(StrictModel):
    """A deterministic random sample of the entity rows (same data and seed, same rows)."""

    fraction: float = Field(gt=0.0, le=1.0)
    seed: int = 0


class Calendar(StrictModel):
    """Parts of the entity timestamp, read on the local clock of ``timezone``, as features."""

    parts: list[CalendarPart] = Field(min_length=1)
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name: Europe/Paris)") from None
        return value


class EntityRows(StrictModel):
    """What one row to predict is: a row of ``table`` at ``timestamp`` with its ``label``.

    Rows without a label are not entity rows. ``keys`` (with the timestamp) identify a row in
    the predictions; ``columns`` are the row's own features. The last ``scoring_days`` before
    the newest timestamp are held back as the scoring batch, their labels kept aside.
    """

    table: str
    timestamp: str
    label: str
    keys: list[str] = []
    columns: list[str] = []
    calendar: Calendar | None = None
    sample: Sample | None = None
    scoring_days: int = Field(ge=1)


class Aggregation(StrictModel):
    """``<column>_<function>_<w>h``: ``function`` of ``column`` over the ``w`` hours *before*
    each event time, that instant excluded."""

    column: str
    functions: list[AggregationFunction] = Field(min_length=1)
    windows_hours: list[int] = Field(min_length=1)

    @field_validator("windows_hours")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if any(hours <= 0 for hours in value):
            raise ValueError(f"windows must be positive numbers of hours; got {value}")
        return value

    @property
    def outputs(self) -> list[tuple[str, int, AggregationFunction]]:
        """(feature name, window in hours, function) of every aggregate, in column order."""
        return [
            (f"{self.column}_{function}_{hours}h", hours, function)
            for hours in self.windows_hours
            for function in self.functions
        ]

    @property
    def feature_names(self) -> list[str]:
        return [name for name, _, _ in self.outputs]


class FeatureView(StrictModel):
    """One Feast feature view over ``table``, keyed by its ``entity`` column.

    Three kinds: without ``timestamp``, static attributes known forever; with ``timestamp``
    and ``features``, point-in-time snapshots valid for ``ttl_hours``; with ``timestamp`` and
    ``aggregations``, trailing-window aggregates (their TTL defaults to the longest window).
    ``prefix`` is put before every feature name.
    """

    table: str
    entity: str
    timestamp: str | None = None
    ttl_hours: float | None = Field(default=None, gt=0)
    features: list[str] = []
    aggregations: list[Aggregation] = []
    prefix: str = ""

    @model_validator(mode="after")
    def _one_kind(self) -> FeatureView:
        if bool(self.features) == bool(self.aggregations):
            raise ValueError("a feature view has either features or aggregations (one of them)")
        if self.timestamp is None and (self.aggregations or self.ttl_hours is not None):
            raise ValueError(
                "a view without timestamp holds static attributes: no aggregations, no ttl_hours"
            )
        if self.timestamp is not None and self.features and self.ttl_hours is None:
            raise ValueError("a view of timestamped snapshots needs ttl_hours")
        return self

    @property
    def kind(self) -> Literal["static", "snapshot", "aggregation"]:
        if self.timestamp is None:
            return "static"
        return "aggregation" if self.aggregations else "snapshot"

    @property
    def feature_columns(self) -> dict[str, str]:
        """Feature name -> source column, for the ``features`` kinds."""
        return {f"{self.prefix}{column}": column for column in self.features}

    @property
    def feature_names(self) -> list[str]:
        if self.aggregations:
            return [f"{self.prefix}{n}" for a in self.aggregations for n in a.feature_names]
        return list(self.feature_columns)

    @property
    def ttl(self) -> timedelta:
        """Feast's TTL: zero (never expires) for static attributes."""
        if self.timestamp is None:
            return timedelta(0)
        if self.ttl_hours is not None:
            return timedelta(hours=self.ttl_hours)
        return timedelta(hours=max(h for a in self.aggregations for h in a.windows_hours))


class DeclaredSpec(StrictModel):
    """A use case declared in YAML: its tables, its entity rows and its feature views."""

    description: str = ""
    tables: dict[str, SourceTable] = Field(min_length=1)
    entity_rows: EntityRows
    feature_views: dict[str, FeatureView] = Field(min_length=1)
    timestamp_order: list[TimestampOrderRule] = []

    @model_validator(mode="after")
    def _references_resolve(self) -> DeclaredSpec:
        _check_names(list(self.tables), "tables")
        _check_names(list(self.feature_views), "feature_views")
        rows = self.entity_rows
        self._require_table("entity_rows.table", rows.table)
        self._require_column("entity_rows.timestamp", rows.table, rows.timestamp, "datetime")
        self._require_column("entity_rows.label", rows.table, rows.label, "string", *NUMERIC)
        for name in [*rows.keys, *rows.columns]:
            self._require_column("entity_rows", rows.table, name)
        parts = rows.calendar.parts if rows.calendar else []
        clash = sorted(set(parts) & set(self.entity_columns(with_calendar=False)))
        if clash:
            raise ValueError(f"entity_rows.calendar parts {clash} are also entity-row columns")
        for name, view in self.feature_views.items():
            where = f"feature_views.{name}"
            self._require_table(f"{where}.table", view.table)
            self._require_column(f"{where}.entity", view.table, view.entity, "string", "int")
            self._require_column(
                f"{where}.entity", rows.table, view.entity, self.dtype(view.table, view.entity)
            )
            if view.timestamp is not None:
                self._require_column(f"{where}.timestamp", view.table, view.timestamp, "datetime")
            for column in view.features:
                self._require_column(f"{where}.features", view.table, column, "string", *NUMERIC)
            for aggregation in view.aggregations:
                self._require_column(
                    f"{where}.aggregations", view.table, aggregation.column, *NUMERIC
                )
        self._features_are_unique()
        try:
            self.validation()  # timestamp_order must refer to declared columns
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
        return self

    def _require_table(self, where: str, table: str) -> None:
        if table not in self.tables:
            raise ValueError(
                f"{where}: no table {table!r} under tables; tables: {list(self.tables)}"
            )

    def _require_column(self, where: str, table: str, column: str, *dtypes: str) -> None:
        rules = self.tables[table].columns
        if column not in rules:
            raise ValueError(
                f"{where}: column {column!r} is not declared under tables.{table}.columns"
            )
        if dtypes and rules[column].dtype not in dtypes:
            raise ValueError(
                f"{where}: tables.{table}.columns.{column} is {rules[column].dtype!r}; "
                f"expected {' or '.join(dtypes)}"
            )

    def _features_are_unique(self) -> None:
        seen: dict[str, str] = {name: "entity_rows" for name in self.entity_columns()}
        seen[self.entity_rows.label] = "entity_rows.label"
        for view_name, view in self.feature_views.items():
            for feature in view.feature_names:
                if feature in seen:
                    raise ValueError(
                        f"feature_views.{view_name}: feature {feature!r} is also named by "
                        f"{seen[feature]}; set a prefix"
                    )
                seen[feature] = f"feature_views.{view_name}"

    def dtype(self, table: str, column: str) -> str:
        return self.tables[table].columns[column].dtype

    @property
    def join_keys(self) -> list[str]:
        """Every view's entity column, in order of first use."""
        return list(dict.fromkeys(view.entity for view in self.feature_views.values()))

    def entity_columns(self, *, with_calendar: bool = True) -> list[str]:
        """The columns of an entity row: keys, timestamp, join keys, own features (no label)."""
        rows = self.entity_rows
        parts = list(rows.calendar.parts) if rows.calendar and with_calendar else []
        columns = [*rows.keys, rows.timestamp, *self.join_keys, *rows.columns, *parts]
        return list(dict.fromkeys(columns))

    def model_features(self) -> FeatureSpec:
        """The model's inputs: the rows' own columns, calendar parts, every view's features."""
        rows = self.entity_rows
        typed = [(c, self.dtype(rows.table, c)) for c in rows.columns]
        typed += [(part, "int") for part in (rows.calendar.parts if rows.calendar else [])]
        for view in self.feature_views.values():
            if view.aggregations:
                typed += [(name, "float") for name in view.feature_names]
            else:
                typed += [
                    (name, self.dtype(view.table, column))
                    for name, column in view.feature_columns.items()
                ]
        return FeatureSpec(
            numeric=[name for name, dtype in typed if dtype in NUMERIC],
            categorical=[name for name, dtype in typed if dtype == "string"],
        )

    def validation(self) -> ValidationSpec:
        """The Great Expectations rules: every table's declared columns."""
        return ValidationSpec(
            tables={name: TableRule(columns=t.columns) for name, t in self.tables.items()},
            timestamp_order=self.timestamp_order,
        )

"""The data gate: turn a ValidationSpec into Great Expectations suites, run them, stop bad batches.

Great Expectations is imported inside functions only: importing it costs seconds, and most
modules that import this package (pipeline registries, CLIs) never validate anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from modelworks.io import SOURCE_ATTR
from modelworks.validation.expectations import (
    DTYPE_NAMES,
    Check,
    dtype_expectation,
    ephemeral_context,
    great_expectations,
    maturity_checks,
    order_checks,
    row_count_check,
    structure_checks,
    value_checks,
)
from modelworks.validation.report import (
    SAMPLE_SIZE,
    DataValidationError,
    describe_failure,
    enforce_validation,
    failure_entry,
)
from modelworks.validation.spec import ValidationSpec

__all__ = [
    "DTYPE_NAMES",
    "SAMPLE_SIZE",
    "DataValidationError",
    "describe_failure",
    "enforce_validation",
    "validate_tables",
]

_RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 20}


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
        checks: Sequence[tuple[Any, Check]],
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
                self.failures.append(failure_entry(check, evr, frame, row_labels))
        return outcome


def _key(expectation_type: str, column: str) -> str:
    return f"{expectation_type}:{column}"


def validate_tables(
    tables: Mapping[str, pd.DataFrame], spec: ValidationSpec, *, suite_name: str
) -> dict[str, Any]:
    """Check ``tables`` against ``spec`` with Great Expectations; return a JSON-safe report.

    Row counts, column existence, dtype, nullability and uniqueness are checked first. Ranges,
    allowed values, the clock (``not_in_future``) and distinct counts are checked only on
    columns that exist with the declared dtype, and a timestamp order or label maturity rule
    only when all its columns passed, so one broken column yields one clear failure rather
    than a cascade of confusing ones. Time rules are judged at ``spec.clock()``.

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
    gx = great_expectations()
    gxe = gx.expectations
    # One asset and batch definition serve every frame: each is handed in at get_batch time,
    # and each asset added would cost a round of context-config serialisation.
    asset = (
        ephemeral_context(gx)
        .data_sources.add_pandas(name=suite_name)
        .add_dataframe_asset(name="frames")
    )
    run = _Run(
        gx=gx,
        suite_name=suite_name,
        batch_definition=asset.add_batch_definition_whole_dataframe(name="whole_frame"),
        tallies={name: _TableTally(rows=len(tables[name])) for name in spec.tables},
    )

    clock = spec.clock()
    dtype_type = dtype_expectation(gx).expectation_type
    typed: dict[str, set[str]] = {}
    for table, table_rule in spec.tables.items():
        frame = tables[table]
        checks: list[tuple[Any, Check]] = [row_count_check(gx, table, table_rule.min_rows)]
        for column, rule in table_rule.columns.items():
            checks.append(
                (gxe.ExpectColumnToExist(column=column), Check(table, column, "must exist"))
            )
            if column in frame.columns:
                checks.extend(structure_checks(gx, table, column, rule))
        outcome = run.validate(table, frame, checks)
        typed[table] = {
            column for column in table_rule.columns if outcome.get(_key(dtype_type, column), False)
        }

    for table, table_rule in spec.tables.items():
        checks = [
            check
            for column, rule in table_rule.columns.items()
            if column in typed[table]
            for check in value_checks(gx, table, column, rule, tables[table], clock)
        ]
        run.validate(table, tables[table], checks)

    for number, order in enumerate(spec.timestamp_order):
        needed = {
            order.table: (order.column, order.join_key),
            order.reference_table: (order.reference_column, order.join_key),
        }
        if all(column in typed[table] for table, columns in needed.items() for column in columns):
            joined, labels, checks = order_checks(gx, order, tables)
            run.validate(f"timestamp_order_{number}", joined, checks, row_labels=labels)

    for number, maturity in enumerate(spec.label_maturity):
        if {maturity.label, maturity.column} <= typed[maturity.table]:
            labelled, labels, checks = maturity_checks(gx, maturity, tables[maturity.table], clock)
            run.validate(f"label_maturity_{number}", labelled, checks, row_labels=labels)

    # Group failures by table, in the spec's order; within a table, checks run structure first.
    order_of = {name: position for position, name in enumerate(spec.tables)}
    run.failures.sort(key=lambda failure: order_of[failure["table"]])
    failed = sum(t.failed for t in run.tallies.values())
    return {
        "suite": suite_name,
        "success": failed == 0,
        "validated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "as_of": clock.isoformat(timespec="seconds"),
        "great_expectations_version": gx.__version__,
        "tables": {
            name: {**tally.as_dict(), "source": tables[name].attrs.get(SOURCE_ATTR)}
            for name, tally in run.tallies.items()
        },
        "failures": run.failures,
    }

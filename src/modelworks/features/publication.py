"""Feature tables are checked before they are published where Feast reads them.

A use case builds its feature tables from validated raw tables; a batch can still be bad in
ways no raw-table rule sees (half a repayments file makes every borrower's history thinner).
Before the tables replace the ones Feast's offline store reads and the online store is
materialised from, each is compared with the version published last: it must keep enough of
its rows, no column's missing rate may jump, no column may be empty, and (when configured) its
distribution must not drift past a verdict. A batch that fails any check is not published:
Feast keeps serving the last good features, the champion's scores stay as they were, and the
report and the error name the table, column, rule and what was observed.

The last published version is remembered as a profile (rows, missing rates and a drift
profile per table), so the check reads a small JSON rather than every table twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal

import pandas as pd
from pydantic import Field

from modelworks.monitoring.drift import SEVERITY, compute_drift
from modelworks.monitoring.params import DriftParams
from modelworks.monitoring.profile import build_reference_profile
from modelworks.params import StrictModel

PROFILE_VERSION = 1
SUITE = "feature_tables"
TABLE = "(rows)"
"""The ``column`` of a check on a table as a whole."""


class PublicationParams(StrictModel):
    """What a batch of feature tables must satisfy to replace the published ones."""

    min_rows: int = Field(default=1, ge=0)
    """Fewest rows a feature table may have, first publication included."""
    max_row_drop: float = Field(default=0.25, ge=0, le=1)
    """Largest share of the last published rows a table may lose. Feature tables grow with
    history; one that shrinks by a quarter was built from a partial extract."""
    max_missing_rate_increase: float = Field(default=0.1, ge=0, le=1)
    """Largest rise of a column's missing rate over the last published version."""
    block_on_drift: Literal["warn", "critical"] | None = None
    """Refuse a batch whose drift from the last published tables reaches this verdict. Off by
    default: a world that moves is what retraining answers, and the registry gate already
    weighs drift before a champion changes."""
    drift: DriftParams = DriftParams()
    exclude_columns: list[str] = Field(default_factory=list)
    """Columns not compared (besides join keys and timestamps, never compared): ids, say."""


class FeatureCheckError(Exception):
    """A batch of feature tables was not published; ``failures`` lists each broken rule."""

    def __init__(self, failures: list[dict[str, Any]]) -> None:
        from modelworks.validation.report import describe_failure

        self.failures = failures
        lines = "\n".join(f"  {describe_failure(f)}" for f in failures)
        super().__init__(
            f"Feature tables not published ({len(failures)} rule(s) broken); Feast keeps "
            f"serving the last published features\n{lines}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.failures,))


def compared_columns(
    frame: pd.DataFrame, join_keys: list[str], params: PublicationParams
) -> tuple[list[str], list[str]]:
    """(numeric, categorical) columns of ``frame`` whose values are compared between versions:
    all but join keys, timestamps and excluded columns."""
    skipped = {*join_keys, *params.exclude_columns}
    numeric, categorical = [], []
    for name in frame.columns:
        values = frame[name]
        if name in skipped or pd.api.types.is_datetime64_any_dtype(values):
            continue
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            numeric.append(str(name))
        else:
            categorical.append(str(name))
    return numeric, categorical


def profile_tables(
    tables: Mapping[str, pd.DataFrame], join_keys: list[str], params: PublicationParams
) -> dict[str, Any]:
    """What the next batch is compared with: per table its rows, each compared column's missing
    rate and a drift profile of its values."""
    profiled: dict[str, Any] = {}
    for name, frame in tables.items():
        numeric, categorical = compared_columns(frame, join_keys, params)
        profiled[name] = {
            "rows": len(frame),
            "missing_rates": {c: _missing_rate(frame[c]) for c in [*numeric, *categorical]},
            "drift_profile": (
                build_reference_profile(
                    frame,
                    numeric=numeric,
                    categorical=categorical,
                    n_bins=params.drift.n_bins,
                )
                if len(frame)
                else None
            ),
        }
    return {
        "version": PROFILE_VERSION,
        "published_at": _now(),
        "tables": profiled,
    }


def check_tables(
    tables: Mapping[str, pd.DataFrame],
    published: Mapping[str, Any] | None,
    join_keys: list[str],
    params: PublicationParams,
) -> dict[str, Any]:
    """Check each feature table of a batch against ``params`` and the last ``published``
    profile (None before the first publication: only the absolute rules apply).

    The report: ``suite``, ``success``, ``checked_at``, ``tables`` (per table ``rows``,
    ``published_rows``, ``success``, ``drift`` verdict or None) and ``failures`` in the data
    gate's shape (``table``, ``column``, ``expectation``, ``rule``, ``observed``, ...).
    """
    previous: Mapping[str, Any] = {}
    if published and published.get("version") == PROFILE_VERSION:
        previous = published["tables"]
    failures: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for name, frame in tables.items():
        before = previous.get(name)
        found = _check_table(name, frame, before, join_keys, params)
        drift = _drift_verdict(frame, before, params) if before and len(frame) else None
        if drift is not None and params.block_on_drift is not None:
            verdict, worst = drift
            if SEVERITY[verdict] >= SEVERITY[params.block_on_drift]:
                found.append(
                    _failure(
                        name,
                        worst["feature"],
                        "drift_from_published",
                        f"must not drift to {params.block_on_drift} from the published version",
                        "; ".join(worst["reasons"]),
                    )
                )
        failures.extend(found)
        summary[name] = {
            "rows": len(frame),
            "published_rows": before["rows"] if before else None,
            "success": not found,
            "drift": drift[0] if drift else None,
        }
    return {
        "suite": SUITE,
        "success": not failures,
        "checked_at": _now(),
        "tables": summary,
        "failures": failures,
    }


def enforce_feature_checks(report: Mapping[str, Any]) -> None:
    """Raise FeatureCheckError when the report from ``check_tables`` did not succeed."""
    if not report["success"]:
        raise FeatureCheckError(list(report["failures"]))


def _check_table(
    name: str,
    frame: pd.DataFrame,
    before: Mapping[str, Any] | None,
    join_keys: list[str],
    params: PublicationParams,
) -> list[dict[str, Any]]:
    rows = len(frame)
    if rows < params.min_rows:
        return [
            _failure(
                name,
                TABLE,
                "row_count",
                f"must hold at least {params.min_rows} rows",
                f"{rows} rows",
            )
        ]
    failures = []
    if before:
        floor = before["rows"] * (1 - params.max_row_drop)
        if rows < floor:
            failures.append(
                _failure(
                    name,
                    TABLE,
                    "row_count_vs_published",
                    f"must keep at least {1 - params.max_row_drop:.0%} of the "
                    f"{before['rows']} rows last published",
                    f"{rows} rows ({rows / before['rows'] - 1:+.1%})",
                )
            )
    numeric, categorical = compared_columns(frame, join_keys, params)
    rates = before["missing_rates"] if before else {}
    for column in [*numeric, *categorical]:
        rate = _missing_rate(frame[column])
        if rows and rate == 1.0:
            failures.append(
                _failure(
                    name,
                    column,
                    "not_all_missing",
                    "must hold some values",
                    f"all {rows} values missing",
                )
            )
        elif column in rates and rate > rates[column] + params.max_missing_rate_increase:
            failures.append(
                _failure(
                    name,
                    column,
                    "missing_rate_vs_published",
                    f"missing rate may rise at most {params.max_missing_rate_increase:.0%} "
                    f"over the {rates[column]:.1%} last published",
                    f"{rate:.1%} missing",
                )
            )
    return failures


def _drift_verdict(
    frame: pd.DataFrame, before: Mapping[str, Any], params: PublicationParams
) -> tuple[str, dict[str, Any]] | None:
    """The batch's drift verdict against the published profile, and its worst feature."""
    profile = before.get("drift_profile")
    if not profile or not profile["features"]:
        return None
    present = [c for c in profile["features"] if c in frame.columns]
    if len(present) < len(profile["features"]):
        return None  # a column that went missing is the row and column checks' business
    summary = compute_drift(profile, frame, params.drift)
    return summary["verdict"], summary["features"][0]


def _failure(table: str, column: str, check: str, rule: str, observed: str) -> dict[str, Any]:
    return {
        "table": table,
        "column": column,
        "expectation": check,
        "rule": rule,
        "unexpected_count": None,
        "sample_values": [],
        "sample_rows": [],
        "observed": observed,
    }


def _missing_rate(values: pd.Series) -> float:
    if len(values) == 0:
        return 0.0
    missing = values.isna()
    if pd.api.types.is_float_dtype(values):
        missing |= values.isin([float("inf"), float("-inf")])
    return float(missing.mean())


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

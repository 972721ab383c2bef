"""The SQL behind ``DuckDBAsofOfflineStore``: ASOF matches, feature fetches and source pulls.

A retrieval runs in two passes over each source (see ``modelworks.features.offline_store``):
``match_query`` ASOF-joins the entity rows with each source's key, timestamp and row position
only, and ``fetch_query`` then reads one view's feature values at the matched positions, each
with the number of the entity row it answers. Everything here builds SQL text or runs it on a
fresh in-memory connection bounded by ``EngineSettings``; nothing knows about Feast.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa

# Columns of the request table sent to DuckDB; entity columns never reach it under these names.
ROW = "__row"
EVENT_TS = "__event_ts"
# Where a row sits in a parquet source: file number and row number in one integer (a file holds
# fewer than 2**40 rows), so the join carries and matches one column instead of two.
POSITION = "(file_index::BIGINT << 40) | file_row_number"


@dataclass(frozen=True)
class EngineSettings:
    """How much of the machine a DuckDB connection may use, and where it spills.

    ``memory_limit`` is DuckDB's (``"2GB"``, ``"512MiB"``; None: DuckDB's own default, 80 % of
    memory); past it, sorts and joins spill to ``temp_directory``. ``threads`` None: one per
    CPU.
    """

    memory_limit: str | None = None
    threads: int | None = None
    temp_directory: str | None = None

    def statements(self) -> list[str]:
        """The ``SET`` statements that apply these settings to a connection."""
        applied = []
        if self.memory_limit is not None:
            applied.append(f"SET memory_limit = {_string_literal(self.memory_limit)}")
        if self.threads is not None:
            applied.append(f"SET threads = {int(self.threads)}")
        if self.temp_directory is not None:
            applied.append(f"SET temp_directory = {_string_literal(self.temp_directory)}")
        return applied


@dataclass(frozen=True)
class ViewPlan:
    """What one feature view contributes to a retrieval, in source-column terms."""

    name: str
    path: str
    keys: list[tuple[str, str]]  # (source column, entity dataframe column)
    timestamp: str
    created: str | None
    ttl: timedelta | None
    features: list[tuple[str, str]]  # (source column, output column)


def match_query(plans: list[ViewPlan], span: tuple[datetime | None, datetime | None]) -> str:
    """Per entity row and view: where in its parquet source the row's feature values are.

    The position is null when nothing is known at the entity's time, or what is known is older
    than the view's TTL: the latest row at or before the event time is checked against the TTL,
    for if it is too old, so is every other candidate. ``span`` is the first and last entity
    event time.
    """
    selected = [f"e.{ROW}"]
    joins = []
    for i, plan in enumerate(plans):
        v = f"v{i}"
        position = f"{v}.__position"
        if plan.ttl is not None:
            fresh = f"{v}.__ts >= e.{EVENT_TS} - {_interval(plan.ttl)}"
            position = f"CASE WHEN {fresh} THEN {position} END"
        selected.append(f"{position} AS {v}")
        keys = [f"e.{_ident(e)} = {v}.{_ident(s)}" for s, e in plan.keys]
        joins.append(
            f"ASOF LEFT JOIN ({_positions(plan, span)}) {v} "
            f"ON {' AND '.join([*keys, _not_later(plan, v)])}"
        )
    return f"SELECT {', '.join(selected)} FROM entity_rows e {' '.join(joins)}"


def _positions(plan: ViewPlan, span: tuple[datetime | None, datetime | None]) -> str:
    """The view's source rows as join key, UTC event time and position; no feature values.

    Rows stamped after the last entity event time, or older than the TTL at the first one, can
    answer no entity row: they are left out before the join sorts the rest.
    """
    ts = _utc_sql(plan.timestamp)
    first, last = span
    # Without a TTL, a row of any age may be the latest one known.
    oldest = first - plan.ttl if first is not None and plan.ttl is not None else None
    columns = [_ident(s) for s, _ in plan.keys]
    columns += [f"{ts} AS __ts", f"{POSITION} AS __position"]
    if plan.created:
        # Equal event times are ranked by created time, so ASOF compares both as one value;
        # a missing created time ranks below any known one.
        created = f"coalesce({_utc_sql(plan.created)}, '-infinity'::TIMESTAMPTZ)"
        columns.append(f"{{'ts': {ts}, 'created': {created}}} AS __rank")
    return f"SELECT {', '.join(columns)} FROM {scan(plan.path)} WHERE {_within(ts, oldest, last)}"


def _not_later(plan: ViewPlan, v: str) -> str:
    """ASOF inequality: the source row is stamped at or before the entity's event time."""
    if plan.created:
        return f"{{'ts': e.{EVENT_TS}, 'created': 'infinity'::TIMESTAMPTZ}} >= {v}.__rank"
    return f"e.{EVENT_TS} >= {v}.__ts"


def fetch_query(plan: ViewPlan, index: int) -> str:
    """The ``index``-th view's feature values at its matched positions, with the entity row.

    Only entity rows that matched come back, in no particular order: the caller puts each
    value in its row, which costs less than having DuckDB sort the values.
    """
    columns = [f"{POSITION} AS __position"]
    columns += [f"{_ident(s)} AS {_ident(o)}" for s, o in plan.features]
    selected = [f"m.{ROW}", *(f"v.{_ident(o)}" for _, o in plan.features)]
    return (
        f"SELECT {', '.join(selected)} FROM matches m "
        f"JOIN (SELECT {', '.join(columns)} FROM {scan(plan.path)}) v "
        f"ON m.v{index} = v.__position"
    )


def pull_query(
    path: str,
    columns: list[str],
    timestamp: str,
    created: str | None,
    window: tuple[datetime | None, datetime | None],
    latest_per: list[str] | None = None,
) -> str:
    """Source rows with event time in ``window`` (an open end is no bound), with both timestamps.

    With ``latest_per``, only the newest row of each such key: by event time, then created
    time (a missing one ranks last).
    """
    selected = [*columns, timestamp, *([created] if created else [])]
    ts = _utc_sql(timestamp)
    query = (
        f"SELECT {', '.join(_ident(c) for c in dict.fromkeys(selected))} FROM {scan(path)} "
        f"WHERE {_within(ts, *window)}"
    )
    if latest_per is None:
        return query
    partition = f"PARTITION BY {', '.join(_ident(k) for k in latest_per)} " if latest_per else ""
    order = f"{ts} DESC" + (f", {_utc_sql(created)} DESC NULLS LAST" if created else "")
    return f"{query} QUALIFY row_number() OVER ({partition}ORDER BY {order}) = 1"


def _within(ts: str, start: datetime | None, end: datetime | None) -> str:
    """SQL condition: timestamp ``ts`` is known and in ``[start, end]``; no bound where None."""
    bounds = [f"{ts} IS NOT NULL"]
    if start is not None:
        bounds.append(f"{ts} >= {_timestamp_literal(start)}")
    if end is not None:
        bounds.append(f"{ts} <= {_timestamp_literal(end)}")
    return " AND ".join(bounds)


def fetch_arrow(query: str, settings: EngineSettings) -> pa.Table:
    """Run one query on a fresh connection."""
    with connect(settings) as con:
        return con.execute(query).to_arrow_table()


@contextmanager
def connect(
    settings: EngineSettings = EngineSettings(),
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection in UTC, so naive timestamps are read as UTC.

    Results come back in no promised order (``preserve_insertion_order`` off), which lets
    DuckDB stream and spill them: a retrieval puts its values in place by entity-row number,
    and pulls promise no order, as in Feast.
    """
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET enable_progress_bar = false")
        for statement in settings.statements():
            con.execute(statement)
        yield con
    finally:
        con.close()


def scan(path: str) -> str:
    """``read_parquet`` over a file, a folder of files or a glob."""
    return f"read_parquet({_string_literal(path)})"


def _utc_sql(column: str) -> str:
    """A source timestamp column as TIMESTAMPTZ (naive values taken as UTC)."""
    return f"CAST({_ident(column)} AS TIMESTAMPTZ)"


def _ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _string_literal(text: str) -> str:
    """A quoted SQL string."""
    return "'" + text.replace("'", "''") + "'"


def _timestamp_literal(moment: datetime) -> str:
    """A TIMESTAMPTZ literal; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"'{moment.astimezone(UTC).isoformat()}'::TIMESTAMPTZ"


def _interval(span: timedelta) -> str:
    """A duration as a DuckDB interval, in whole microseconds (its timestamp resolution)."""
    return f"to_microseconds({span // timedelta(microseconds=1)})"

"""Point-in-time retrieval: modelworks' DuckDB-ASOF store, Feast's file and duckdb stores, and
a plain DuckDB ``ASOF LEFT JOIN``, side by side in one run.

    .venv/bin/python -m benchmarks.offline_store                # 100k x 1M, 1M x 10M, 10M x 100M
    .venv/bin/python -m benchmarks.offline_store --sizes small  # 10k x 100k, about a minute
    .venv/bin/python -m benchmarks.offline_store --sizes large  # 10M x 100M only

Setup: one feature view of 10 float features with a 30-day TTL over one parquet
source; N entity rows asking for the features of one of about N_features / 100 entities at a
moment in one year (1% of them for entities the source never heard of). A seeded generator
writes the data chunk by chunk (parquet row groups of a million rows), so that generating 100M
feature rows stays within a few GB, into a cache folder keyed by size and seed
(``$MODELWORKS_BENCH_CACHE`` or the temp dir): a rerun reuses it. Each run writes a feature
repo holding one registry and one ``feature_store.yaml`` per store. Each engine runs in a fresh
process with a wall-time limit and a resident-memory cap (a watchdog kills it past either and
the run records that it did not finish): an untimed call for 1,000 entity rows loads the
registry, the libraries, their first-use caches and the file into the page cache, and a
garbage collection clears what the imports left, then one timed call retrieves every entity
row into a pandas dataframe with ``get_historical_features(...).to_df()``, the call modelworks'
training sets are built with. Times are of that call; peak memory is the whole process's,
warm-up included. modelworks' store runs with its default settings (DuckDB's memory limit, its
threads and its spill folder follow the machine). Results:
``benchmarks/results/offline_store.{json,md}``.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import (
    Measurement,
    Target,
    command_line,
    markdown_table,
    measure,
    write_results,
)

SEED = 20_240_707
N_FEATURES = 10
TTL = timedelta(days=30)
WARM_UP = 1_000  # entity rows of the untimed first call
YEAR_START = pd.Timestamp("2024-01-01", tz="UTC")
YEAR = pd.Timedelta(days=365)
CHUNK_ROWS = 4_000_000  # feature rows generated and written at a time
ROW_GROUP_ROWS = 1_000_000
CACHE = Path(os.environ.get("MODELWORKS_BENCH_CACHE", tempfile.gettempdir())) / (
    "modelworks-bench-offline-store"
)
FEATURES = [f"bench_fv:f{i}" for i in range(N_FEATURES)]
STORES = {
    "modelworks": "modelworks.features.offline_store.DuckDBAsofOfflineStore",
    "feast_file": "file",
    "feast_duckdb": "duckdb",
}
LABELS = {
    "modelworks": "modelworks DuckDB-ASOF store",
    "feast_file": "Feast `file` store",
    "feast_duckdb": "Feast `duckdb` store",
    "plain_asof": "plain DuckDB `ASOF LEFT JOIN`",
}


@dataclass(frozen=True)
class Size:
    """Entity rows asking, feature rows answering; the engines run and the limits they run in."""

    entity_rows: int
    feature_rows: int
    engines: tuple[str, ...] = ("modelworks", "plain_asof", "feast_duckdb", "feast_file")
    limit_s: float = 1_800
    limit_mb: float = 20_000

    @property
    def name(self) -> str:
        return f"{_short(self.entity_rows)} x {_short(self.feature_rows)}"


SIZES = {
    "small": [Size(10_000, 100_000)],
    "full": [Size(100_000, 1_000_000), Size(1_000_000, 10_000_000)],
    # The plain join (no TTL, DuckDB's default memory limit) is left out at this size: it is the
    # floor of the 1M x 10M comparison. Feast's stores get a bounded attempt each.
    "large": [
        Size(
            10_000_000,
            100_000_000,
            engines=("modelworks", "feast_duckdb", "feast_file"),
            limit_s=780,
            limit_mb=8_000,
        )
    ],
}


# --------------------------------------------------------------------------------------------
# Data and repo
# --------------------------------------------------------------------------------------------


def cached_data(size: Size, cache: Path = CACHE) -> tuple[Path, Path]:
    """The size's feature rows and entity rows, generated once per size and seed; their paths."""
    folder = cache / f"{size.entity_rows}x{size.feature_rows}-seed{SEED}"
    paths = (folder / "features.parquet", folder / "entity_rows.parquet")
    if not folder.is_dir():
        partial = folder.with_name(f".{folder.name}.partial")
        partial.mkdir(parents=True, exist_ok=True)
        # In a process of its own: a child's peak memory counts its parent's (getrusage keeps
        # it across fork and exec), so this one must never hold the data.
        measure(write_data, size, partial)
        partial.rename(folder)
    return paths


def write_data(size: Size, folder: Path) -> None:
    """Feature rows (unique event time per entity) and entity rows, as parquet in ``folder``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(SEED)
    entities = max(size.feature_rows // 100, 1)
    n = size.feature_rows
    # A permutation of evenly spaced instants: no two feature rows share an event time, so
    # every engine has exactly one right answer per entity row. Whole milliseconds, as Feast's
    # duckdb store refuses timestamps finer than a microsecond.
    instants = rng.permutation(n)
    step_ns = YEAR.value / n
    stamp = pa.timestamp("ns", tz="UTC")
    schema = pa.schema(
        [("entity_id", pa.int64()), ("event_timestamp", stamp)]
        + [(f"f{i}", pa.float64()) for i in range(N_FEATURES)]
    )
    with pq.ParquetWriter(folder / "features.parquet", schema) as writer:
        for first in range(0, n, CHUNK_ROWS):
            rows = min(CHUNK_ROWS, n - first)
            offset_ns = (instants[first : first + rows] * step_ns).astype(np.int64)
            stamps = YEAR_START.value + offset_ns // 1_000_000 * 1_000_000
            values = rng.random((N_FEATURES, rows))
            chunk = pa.Table.from_arrays(
                [pa.array(rng.integers(0, entities, rows)), pa.array(stamps, stamp)]
                + [pa.array(v) for v in values],
                schema=schema,
            )
            writer.write_table(chunk, row_group_size=ROW_GROUP_ROWS)
    del instants
    m = size.entity_rows
    asked = rng.integers(0, int(entities * 1.01) + 1, m)
    seconds = (rng.random(m) * YEAR.value).astype(np.int64) // 1_000_000_000 * 1_000_000_000
    rows_table = pa.table(
        {"entity_id": asked, "event_timestamp": pa.array(YEAR_START.value + seconds, stamp)}
    )
    pq.write_table(rows_table, folder / "entity_rows.parquet")


def write_repo(folder: Path, feature_path: Path) -> Path:
    """A feature repo over ``feature_path``: one registry, one yaml per store; applied."""
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64

    repo = folder / "repo"
    repo.mkdir()
    for key, store_type in STORES.items():
        (repo / f"{key}.yaml").write_text(
            "project: bench\nprovider: local\nregistry: registry.db\n"
            f"offline_store:\n  type: {store_type}\n"
            "online_store:\n  type: sqlite\n  path: online.db\n"
            "entity_key_serialization_version: 3\n"
        )
    entity = Entity(name="entity", join_keys=["entity_id"], value_type=ValueType.INT64)
    source = FileSource(
        name="bench_source", path=str(feature_path), timestamp_field="event_timestamp"
    )
    view = FeatureView(
        name="bench_fv",
        entities=[entity],
        ttl=TTL,
        schema=[Field(name=f"f{i}", dtype=Float64) for i in range(N_FEATURES)],
        source=source,
    )
    FeatureStore(repo_path=str(repo), fs_yaml_file=repo / "modelworks.yaml").apply(
        [entity, source, view]
    )
    return repo


# --------------------------------------------------------------------------------------------
# Engines (each runs in its own process)
# --------------------------------------------------------------------------------------------


def retrieve_with_feast(repo: str, store: str, entity_path: str) -> dict[str, Any]:
    """``get_historical_features(...).to_df()`` through one Feast offline store, timed."""
    from feast import FeatureStore

    os.chdir(repo)  # Feast's duckdb store resolves paths against the working directory
    feature_store = FeatureStore(repo_path=repo, fs_yaml_file=Path(repo) / f"{store}.yaml")
    rows = pd.read_parquet(entity_path)
    feature_store.get_historical_features(rows.head(WARM_UP), FEATURES).to_df()
    gc.collect()  # a full collection owed by the imports must not land in the timed call
    start = time.perf_counter()
    result = feature_store.get_historical_features(rows, FEATURES).to_df()
    return _summary(result, time.perf_counter() - start)


def retrieve_with_plain_asof(feature_path: str, entity_path: str) -> dict[str, Any]:
    """The bare DuckDB ASOF join, with neither TTL nor row order: the floor to compare with."""
    import duckdb

    rows = pd.read_parquet(entity_path)
    features = ", ".join(f"f.f{i}" for i in range(N_FEATURES))
    query = (
        f"SELECT e.*, {features} FROM rows e ASOF LEFT JOIN read_parquet('{feature_path}') f "
        "ON e.entity_id = f.entity_id AND e.event_timestamp >= f.event_timestamp"
    )
    con = duckdb.connect()
    con.register("rows", rows.head(WARM_UP))
    con.execute(query).df()
    con.register("rows", rows)
    gc.collect()
    start = time.perf_counter()
    result = con.execute(query).df()
    return _summary(result, time.perf_counter() - start)


def _summary(result: pd.DataFrame, seconds: float) -> dict[str, Any]:
    """What the report needs of a retrieval: its time, rows, and rows that found features."""
    return {
        "seconds": seconds,
        "rows": len(result),
        "rows_with_features": int(result["f0"].notna().sum()),
    }


# --------------------------------------------------------------------------------------------
# Bounded runs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """A measured run, or why there is none (it ran past its time or memory, or failed)."""

    measurement: Measurement | None
    note: str = ""


def measure_bounded(func: Any, args: tuple[Any, ...], limit_s: float, limit_mb: float) -> Outcome:
    """``measure``, in a process killed once it runs past ``limit_s`` or ``limit_mb`` resident.

    A watchdog samples the process's resident memory every 0.1 s; a process killed for either
    limit, or one that dies on its own, comes back as a note instead of a measurement.
    """
    import psutil

    from benchmarks.common import _child

    context = mp.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(func, args, {}, send))
    start = time.perf_counter()
    process.start()
    send.close()
    watched = psutil.Process(process.pid)
    note = ""
    while not receive.poll(0.1):
        elapsed = time.perf_counter() - start
        try:
            resident_mb = watched.memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            break
        if resident_mb > limit_mb:
            note = f"exceeded {limit_mb:,.0f} MB after {elapsed:.0f} s"
        elif elapsed > limit_s:
            note = f"did not finish in {limit_s:.0f} s"
        if note:
            process.kill()
            process.join()
            return Outcome(None, note)
    try:
        status, seconds, peak_mb, result = receive.recv()
    except EOFError:
        process.join()
        return Outcome(None, f"died with exit code {process.exitcode}")
    process.join()
    if status != "ok":
        return Outcome(None, f"failed: {result}")
    return Outcome(Measurement(seconds=seconds, peak_mb=peak_mb, result=result))


# --------------------------------------------------------------------------------------------
# Run and report
# --------------------------------------------------------------------------------------------


def run_size(size: Size, repeats: int) -> dict[str, Any]:
    """Every engine of the size; the fastest of ``repeats`` runs (Feast's file store: one)."""
    feature_path, entity_path = cached_data(size)
    with tempfile.TemporaryDirectory(prefix="bench_offline_store_") as tmp:
        repo = str(measure(write_repo, Path(tmp), feature_path).result)
        engines: dict[str, dict[str, Any]] = {}
        for key in size.engines:
            # One file-store run takes minutes and ~14 GB at 1M x 10M; its target has slack.
            engines[key] = _best_of(
                key, size, repo, feature_path, entity_path, 1 if key == "feast_file" else repeats
            )
            print(f"  {size.name:>10}  {LABELS[key]:<32} {_line(engines[key])}", flush=True)
    return {"size": size.name, "entity_rows": size.entity_rows, "engines": engines}


def _best_of(
    key: str, size: Size, repo: str, feature_path: Path, entity_path: Path, repeats: int
) -> dict[str, Any]:
    """The fastest of ``repeats`` bounded runs with the highest peak; a note if any failed."""
    if key == "plain_asof":
        func, args = retrieve_with_plain_asof, (str(feature_path), str(entity_path))
    else:
        func, args = retrieve_with_feast, (repo, key, str(entity_path))
    runs = []
    for _ in range(repeats):
        outcome = measure_bounded(func, args, size.limit_s, size.limit_mb)
        if outcome.measurement is None:
            return {"note": outcome.note}
        runs.append(outcome.measurement)
    best = min(runs, key=lambda m: m.result["seconds"])
    return {**best.result, "peak_mb": max(m.peak_mb for m in runs)}


def targets(result: dict[str, Any]) -> list[Target]:
    """The targets set at this size, each with what this run measured.

    At 1M x 10M: time against the plain ASOF join, speed-up over Feast's duckdb store, peak
    memory; at 100k x 1M and 1M x 10M: speed-up over Feast's file store and every entity row
    kept; at 10M x 100M: wall time, peak memory, speed-up over Feast's duckdb store and every
    entity row kept. Other sizes set none.
    """
    size, engines = result["size"], result["engines"]
    ours = engines["modelworks"]
    prefix = f"PIT retrieval {size}, to_df"
    found: list[Target] = []
    if size == "1M x 10M":
        found += [
            _target(
                f"{prefix}: time vs plain DuckDB ASOF join",
                _ratio(ours, engines["plain_asof"]),
                1.3,
                "x",
            ),
            _target(
                f"{prefix}: speed-up over Feast duckdb store",
                _ratio(engines["feast_duckdb"], ours),
                1.8,
                "x",
                "at_least",
            ),
            _target(f"{prefix}: peak memory", _value(ours, "peak_mb"), 1500, "MB"),
        ]
    if size in ("100k x 1M", "1M x 10M"):
        found.append(
            _target(
                f"{prefix}: speed-up over Feast file store",
                _ratio(engines["feast_file"], ours),
                15,
                "x",
                "at_least",
            )
        )
    if size == "10M x 100M":
        found += [
            _target(f"{prefix}: wall", _value(ours, "seconds"), 60, "s"),
            _target(f"{prefix}: peak memory", _value(ours, "peak_mb"), 4096, "MB"),
            _target(
                f"{prefix}: speed-up over Feast duckdb store",
                _ratio(engines["feast_duckdb"], ours),
                5,
                "x",
                "at_least",
            ),
        ]
    if size in ("100k x 1M", "1M x 10M", "10M x 100M"):
        found.append(
            _target(
                f"{prefix}: entity rows returned",
                _value(ours, "rows"),
                result["entity_rows"],
                "rows",
                "at_least",
            )
        )
    return found


def _target(
    name: str, measured: tuple[float | None, str], goal: float, unit: str, bound: str = "at_most"
) -> Target:
    """A target from a measurement and the note that says why it is missing, if it is."""
    value, note = measured
    return Target(name, value, goal, unit, "at_least" if bound == "at_least" else "at_most", note)


def _value(engine: dict[str, Any], key: str) -> tuple[float | None, str]:
    """One measured figure of an engine's run, or None and why it is missing."""
    if "note" in engine:
        return None, f"modelworks: {engine['note']}"
    return float(engine[key]), ""


def _ratio(slower: dict[str, Any], faster: dict[str, Any]) -> tuple[float | None, str]:
    """``slower``'s time over ``faster``'s, or None and which run did not finish."""
    missing = [e["note"] for e in (slower, faster) if "note" in e]
    if missing:
        return None, "; ".join(missing)
    return slower["seconds"] / faster["seconds"], ""


def report(results: list[dict[str, Any]], found: list[Target], command: str) -> str:
    """Markdown: every engine at every size, then the targets."""
    rows = [
        [
            result["size"],
            LABELS[key],
            engine.get("seconds", "-"),
            round(engine["peak_mb"]) if "peak_mb" in engine else "-",
            f"{engine['rows']:,} / {result['entity_rows']:,}" if "rows" in engine else "-",
            f"{engine['rows_with_features']:,}" if "rows" in engine else engine["note"],
        ]
        for result in results
        for key, engine in result["engines"].items()
    ]
    engines = markdown_table(
        ["case", "engine", "time (s)", "peak (MB)", "rows returned / entity rows", "with features"],
        rows,
    )
    goals = markdown_table(
        ["target", "measured", "goal", "holds"],
        [
            [
                t.name + (f" ({t.note})" if t.note else ""),
                "not measured" if t.measured is None else f"{t.measured:,.3g} {t.unit}",
                f"{'<=' if t.bound == 'at_most' else '>='} {t.target:,.0f} {t.unit}",
                "yes" if t.holds else "**no**",
            ]
            for t in found
        ],
    )
    return (
        f"# Point-in-time retrieval\n\nMeasured with `{command}`.\n\n{engines}\n\n"
        "`with features`: rows for which features were found (or why the run did not finish). "
        "Plain ASOF has no TTL, so it finds more; the Feast `file` store drops the rows it "
        "finds nothing for.\n\n"
        + (f"{goals}\n" if found else "No targets are set at these sizes.\n")
    )


def main() -> None:
    """Run the sizes asked for, print the table, write the results files."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        default="full,large",
        help=f"comma-separated, of {', '.join(SIZES)} (default: full,large)",
    )
    parser.add_argument("--repeats", type=int, default=2, help="runs per engine (best is kept)")
    args = parser.parse_args()
    names = [n.strip() for n in args.sizes.split(",")]
    unknown = [n for n in names if n not in SIZES]
    if unknown:
        parser.error(f"unknown sizes {unknown}; choose from {', '.join(SIZES)}")
    results, found = [], []
    for size in (s for n in names for s in SIZES[n]):
        # Each large-size run takes minutes: one per engine.
        result = run_size(size, 1 if size.entity_rows >= 10_000_000 else args.repeats)
        results.append(result)
        found += targets(result)
    text = report(results, found, command_line())
    payload = {"sizes": names, "results": results}
    path = write_results("offline_store", payload, text, targets=found)
    print(f"\n{text}\nwritten to {path}")


def _short(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1_000}k"


def _line(engine: dict[str, Any]) -> str:
    if "note" in engine:
        return engine["note"]
    return (
        f"{engine['seconds']:7.2f} s  {engine['peak_mb']:7.0f} MB  "
        f"{engine['rows']:>9,} rows  {engine['rows_with_features']:>9,} with features"
    )


if __name__ == "__main__":
    main()

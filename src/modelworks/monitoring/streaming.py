"""Drift of parquet data larger than memory, in one process, by streaming it.

``stream_reference_profile`` builds the reference profile one column at a time (memory: one
column, never the table) with the in-memory path's own per-column functions, so the profile is
the one ``build_reference_profile`` writes. ``stream_drift`` reads the batch column by column,
``chunk_rows`` rows at a time, and reduces each chunk of a numeric column to counts on a fine
grid derived from the reference sketch (a sort of the chunk, then one binary search per grid
point), each chunk of a categorical column to its category counts; the sums go through
``drift_summary``, so Holm's correction and the verdict rule are the in-memory path's.

What is exact and what is not:

* row, missing, bin and category counts are sums: PSI, Jensen-Shannon, chi-squared, missing and
  unseen rates equal ``compute_drift``'s;
* KS and Wasserstein against the reference sketch need the order of the current values, which no
  bounded summary keeps. They are computed on a grid of ``subdivisions`` equal steps inside every
  interval between two sketch knots (the knots themselves, where the reference CDF may jump,
  are grid points, counted on both sides). The reference sketch's CDF is linear between grid
  points and the current CDF is known at each of them, so the KS statistic reported (the largest
  gap at a grid point) is at most ``ks_error`` below ``compute_drift``'s and never above it; the
  Wasserstein distance takes the current CDF as linear inside a grid cell and is within
  ``wasserstein_error`` of ``compute_drift``'s. Both bounds are computed from the counts of the
  run and returned per feature under ``approximation``; below the first knot and above the last
  the reference CDF is flat and both statistics are exact there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from modelworks.monitoring.counts import (
    CategoricalCounts,
    ColumnCounts,
    GridCounts,
    categorical_row,
    dictionary_counts,
    grid_counts,
    numeric_row,
    sketch_grid,
)
from modelworks.monitoring.drift import drift_summary
from modelworks.monitoring.params import DriftParams
from modelworks.monitoring.profile import (
    PROFILE_VERSION,
    _profile_categorical,
    _profile_numeric,
    category_counts,
    check_profile,
    sorted_finite,
)

# Rows of one column read and reduced at a time (8 MB of float64, a few copies while reduced).
DEFAULT_CHUNK_ROWS = 1_000_000
# Grid steps per interval between two sketch knots: the reference CDF rises by at most 0.5% of
# the mass over a knot interval, so by at most 0.5% / 64 over a grid cell.
DEFAULT_SUBDIVISIONS = 64
# Columns read and reduced at the same time (arrow's reads, numpy's sort and search release
# the GIL).
DEFAULT_THREADS = 2


# --------------------------------------------------------------------------------------------
# Reading parquet
# --------------------------------------------------------------------------------------------


def parquet_files(source: str | Path, columns: list[str], *, frame: str) -> list[str]:
    """The parquet file, or the files of the folder, with an error naming every feature the
    data lacks."""
    dataset = ds.dataset(str(source), format="parquet")
    missing = [c for c in columns if c not in dataset.schema.names]
    if missing:
        raise ValueError(f"Features missing from the {frame} frame: {missing}")
    return list(dataset.files)


def column_chunks(files: list[str], name: str, chunk_rows: int) -> Iterator[pa.Array]:
    """One column of every file, ``chunk_rows`` rows at a time."""
    for path in files:
        reader = pq.ParquetFile(path)
        for batch in reader.iter_batches(batch_size=chunk_rows, columns=[name], use_threads=False):
            yield batch.column(0)


def float_values(name: str, column: pa.Array, frame: str) -> np.ndarray:
    """A numeric parquet column as float64, nulls as NaN."""
    try:
        as_float = pc.cast(column, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ValueError(
            f"Numeric feature {name!r} in the {frame} frame has non-numeric values "
            f"(type {column.type}): {exc}"
        ) from None
    return np.asarray(pc.fill_null(as_float, float("nan")).to_numpy(zero_copy_only=False))


# --------------------------------------------------------------------------------------------
# The framework functions
# --------------------------------------------------------------------------------------------


def stream_reference_profile(
    source: str | Path,
    *,
    numeric: list[str],
    categorical: list[str],
    n_bins: int = 10,
    threads: int = DEFAULT_THREADS,
) -> dict[str, Any]:
    """``build_reference_profile``'s profile (without scores) of a parquet file or folder.

    Reads one column at a time (``threads`` columns at once): memory is a float64 copy of a
    column per thread, never the table. Each column goes through the in-memory path's own
    summary, so the profile equals ``build_reference_profile`` on the same rows.
    """
    if n_bins < 2:
        raise ValueError(f"n_bins must be at least 2, got {n_bins}")
    overlap = sorted(set(numeric) & set(categorical))
    if overlap:
        raise ValueError(f"Features listed as both numeric and categorical: {overlap}")
    files = parquet_files(source, [*numeric, *categorical], frame="reference")
    n_rows = sum(pq.ParquetFile(path).metadata.num_rows for path in files)
    if n_rows == 0:
        raise ValueError("The reference frame is empty: a drift profile needs training rows")

    def profile_column(name: str) -> dict[str, Any]:
        chunks = column_chunks(files, name, DEFAULT_CHUNK_ROWS)
        if name in categorical:
            return _profile_categorical(pa.chunked_array(list(chunks)).to_pandas())
        # Filled chunk by chunk: one float64 copy of the column, never the arrow one beside it.
        values = np.empty(n_rows)
        start = 0
        for chunk in chunks:
            values[start : start + len(chunk)] = float_values(name, chunk, "reference")
            start += len(chunk)
        return _profile_numeric(*sorted_finite(name, values, "reference"), n_bins)

    names = [*numeric, *categorical]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        features = dict(zip(names, pool.map(profile_column, names), strict=True))
    return {
        "version": PROFILE_VERSION,
        "n_rows": n_rows,
        "n_bins": n_bins,
        "features": features,
        "scores": None,
    }


def chunk_counts(
    column: pa.Array, name: str, ref: dict[str, Any], grid: np.ndarray, scratch: np.ndarray
) -> ColumnCounts:
    """One chunk of a column reduced to the counts of its kind."""
    if ref["kind"] == "categorical":
        string_dictionary = (
            pa.types.is_dictionary(column.type)
            and pa.types.is_string(column.type.value_type)
            and column.dictionary.null_count == 0
        )
        counts = (
            dictionary_counts(column) if string_dictionary else category_counts(column.to_pandas())
        )
        return CategoricalCounts(len(column), counts)
    values = float_values(name, column, "current")
    return grid_counts(values, grid, np.asarray(ref["bin_edges"], dtype=float), scratch)


def column_counts(
    files: list[str], name: str, ref: dict[str, Any], chunk_rows: int, subdivisions: int
) -> ColumnCounts | None:
    """A column's counts summed over its chunks; None when the files have no rows."""
    knots = ref["sketch"]["values"] if ref["kind"] == "numeric" else []
    grid = sketch_grid(np.asarray(knots, dtype=float), subdivisions)
    scratch = np.empty(chunk_rows if ref["kind"] == "numeric" else 0)
    total: ColumnCounts | None = None
    for chunk in column_chunks(files, name, chunk_rows):
        counts = chunk_counts(chunk, name, ref, grid, scratch)
        total = counts if total is None else total.merge(counts)  # type: ignore[arg-type]
    return total


def stream_counts(
    source: str | Path,
    features: dict[str, dict[str, Any]],
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    subdivisions: int = DEFAULT_SUBDIVISIONS,
    threads: int = DEFAULT_THREADS,
) -> dict[str, ColumnCounts | None]:
    """Every feature's counts over the parquet file or folder, ``threads`` columns at a time,
    each read and reduced ``chunk_rows`` rows at a time."""
    files = parquet_files(source, list(features), frame="current")
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = {
            name: pool.submit(column_counts, files, name, ref, chunk_rows, subdivisions)
            for name, ref in features.items()
        }
        return {name: future.result() for name, future in futures.items()}


def stream_drift(
    profile: dict[str, Any] | str | Path,
    source: str | Path,
    params: DriftParams,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    subdivisions: int = DEFAULT_SUBDIVISIONS,
    threads: int = DEFAULT_THREADS,
) -> dict[str, Any]:
    """``compute_drift``'s summary of a parquet file or folder, streamed in chunks of columns.

    ``profile`` is the reference profile or the path of its JSON. Memory is ``chunk_rows``
    values of one column per thread and the grid counts, never the table. Same keys, verdict
    rule, Holm correction and order as ``compute_drift``, plus ``approximation``: per numeric
    feature, the bounds ``ks_error`` and ``wasserstein_error`` of the distance of its KS and
    Wasserstein values from ``compute_drift``'s (module docstring).
    """
    reference = profile if isinstance(profile, dict) else json.loads(Path(profile).read_text())
    check_profile(reference)
    features: dict[str, dict[str, Any]] = reference["features"]
    totals = stream_counts(
        source, features, chunk_rows=chunk_rows, subdivisions=subdivisions, threads=threads
    )
    first = next(iter(totals.values()), None)
    n_rows = first.n_rows if first is not None else 0
    if n_rows == 0:
        raise ValueError("The current frame is empty: there is nothing to compare")
    rows: list[dict[str, Any]] = []
    approximation: dict[str, dict[str, float]] = {}
    for name, ref in features.items():
        counts = totals[name]
        assert counts is not None  # every column of the files has the same rows
        if isinstance(counts, GridCounts):
            body, approximation[name] = numeric_row(ref, counts, subdivisions)
        else:
            body = categorical_row(ref, counts)
        rows.append({"feature": name, "kind": ref["kind"], **body})
    return drift_summary(rows, reference, n_rows, params) | {"approximation": approximation}

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from modelworks.monitoring.drift import (
    MAX_UNSEEN_LISTED,
    _categorical_distributions,
    _missing_rates,
    drift_summary,
)
from modelworks.monitoring.params import DriftParams
from modelworks.monitoring.profile import (
    PROFILE_VERSION,
    _profile_categorical,
    _profile_numeric,
    category_counts,
    check_profile,
    sorted_finite,
)
from modelworks.monitoring.statistics import (
    chi2_two_sample,
    jensen_shannon_distance,
    ks_p_value,
    population_stability_index,
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
# Mergeable statistics of one column
# --------------------------------------------------------------------------------------------


@dataclass
class GridCounts:
    """Sums over the chunks of one numeric column: everything its drift statistics need."""

    n_rows: int
    count: int  # finite values
    bins_at_or_below: np.ndarray  # values <= each PSI bin edge
    below: np.ndarray  # values < each grid point
    at_or_below: np.ndarray  # values <= each grid point
    low_area: float  # sum of (first knot - v) over v below the first knot
    high_area: float  # sum of (v - last knot) over v above the last knot

    def merge(self, other: GridCounts) -> GridCounts:
        """Both chunks' counts: every field is a sum."""
        return GridCounts(
            self.n_rows + other.n_rows,
            self.count + other.count,
            self.bins_at_or_below + other.bins_at_or_below,
            self.below + other.below,
            self.at_or_below + other.at_or_below,
            self.low_area + other.low_area,
            self.high_area + other.high_area,
        )


@dataclass
class CategoricalCounts:
    """Sums over the chunks of one categorical column: rows and non-missing category counts."""

    n_rows: int
    counts: pd.Series

    def merge(self, other: CategoricalCounts) -> CategoricalCounts:
        """Both chunks' counts; a category's first appearance keeps its place."""
        joined = pd.concat([self.counts, other.counts]).groupby(level=0, sort=False).sum()
        return CategoricalCounts(self.n_rows + other.n_rows, joined)


ColumnCounts = GridCounts | CategoricalCounts


def sketch_grid(knots: np.ndarray, subdivisions: int) -> np.ndarray:
    """The sketch's knots with ``subdivisions - 1`` equally spaced points inside each interval;
    knot ``j`` is grid point ``j * subdivisions``."""
    if len(knots) < 2:
        return np.asarray(knots, dtype=float)
    steps = np.arange(subdivisions) / subdivisions
    inner = knots[:-1, None] + steps[None, :] * np.diff(knots)[:, None]
    return np.append(inner.ravel(), knots[-1])


def grid_counts(
    values: np.ndarray, grid: np.ndarray, bin_edges: np.ndarray, scratch: np.ndarray
) -> GridCounts:
    """One chunk of a numeric column (NaN and +-inf missing) reduced to its ``GridCounts``.

    Sorted in ``scratch`` (at least as long as ``values``, reused from chunk to chunk: fresh
    memory costs a page fault per page), where NaN sorts last and the infinities to the ends, so
    the finite values are one slice of it.
    """
    ordered = scratch[: len(values)]
    np.copyto(ordered, values)
    ordered.sort()
    lo = int(np.searchsorted(ordered, -np.inf, side="right"))
    hi = int(np.searchsorted(ordered, np.inf, side="left"))
    finite = ordered[lo:hi]
    low = high = 0.0
    if len(grid) and len(finite):
        below_first = int(np.searchsorted(finite, grid[0], side="left"))
        above_last = int(np.searchsorted(finite, grid[-1], side="right"))
        low = float(grid[0] * below_first - finite[:below_first].sum())
        high = float(finite[above_last:].sum() - grid[-1] * (len(finite) - above_last))
    return GridCounts(
        n_rows=len(values),
        count=len(finite),
        bins_at_or_below=np.searchsorted(finite, bin_edges, side="right").astype(np.int64),
        below=np.searchsorted(finite, grid, side="left").astype(np.int64),
        at_or_below=np.searchsorted(finite, grid, side="right").astype(np.int64),
        low_area=low,
        high_area=high,
    )


def dictionary_counts(column: pa.DictionaryArray) -> pd.Series:
    """``category_counts`` of a dictionary-encoded string column, from its indices alone."""
    present = pc.drop_null(column.indices).to_numpy(zero_copy_only=False)
    counts = np.bincount(present, minlength=len(column.dictionary))
    labels = pd.Index(column.dictionary.to_pylist(), dtype=object)
    series = pd.Series(counts, index=labels)
    # Dictionary order first, as pandas counts a Categorical; duplicate labels summed.
    series = series[series > 0].groupby(level=0, sort=False).sum()
    return series.sort_values(ascending=False, kind="stable")


# --------------------------------------------------------------------------------------------
# KS and Wasserstein from grid counts
# --------------------------------------------------------------------------------------------


class GridDistances(NamedTuple):
    """KS and Wasserstein-1 against the reference sketch, and how far each may be from the
    values ``sketch_distances`` computes on the sorted sample."""

    ks_statistic: float
    wasserstein: float
    ks_error: float
    wasserstein_error: float


def reference_cdf_on_grid(
    sketch: dict[str, list[float]], n_reference: int, subdivisions: int
) -> tuple[np.ndarray, np.ndarray]:
    """The sketch's CDF at every grid point: its value there and its limit from the left.

    Exact at the knots (the stored counts), linear between them, as ``sketch_distances`` reads it.
    """
    below = np.asarray(sketch["n_below"], dtype=float) / n_reference
    at_or_below = np.asarray(sketch["n_at_or_below"], dtype=float) / n_reference
    if len(below) < 2:
        return at_or_below, below
    steps = np.arange(subdivisions) / subdivisions
    # Inside knot interval j the CDF rises from F(knot j) to F(knot j+1 -).
    inner = at_or_below[:-1, None] + steps[None, :] * (below[1:] - at_or_below[:-1])[:, None]
    left = inner.copy()
    left[:, 0] = below[:-1]
    return np.append(inner.ravel(), at_or_below[-1]), np.append(left.ravel(), below[-1])


def grid_distances(
    sketch: dict[str, list[float]], n_reference: int, counts: GridCounts, subdivisions: int
) -> GridDistances:
    """KS and Wasserstein-1 between the reference sketch and the current values' grid counts.

    KS: the largest gap at a grid point (both one-sided limits), a lower bound of the gap over the
    line; inside a cell the reference CDF F rises from F(a) to F(b-) and the current CDF G from
    G(a) to G(b-), so the gap there is at most max(F(b-) - G(a), G(b-) - F(a)): ``ks_error`` is
    how far the largest such bound exceeds the statistic. Wasserstein: G is taken as linear
    inside each cell, where it may be off by at most its rise over the cell, so ``
    wasserstein_error`` is the sum over cells of width times that rise. Outside the knots F is 0
    or 1, and the statistics are exact.
    """
    n = counts.count
    grid = sketch_grid(np.asarray(sketch["values"], dtype=float), subdivisions)
    f_at, f_left = reference_cdf_on_grid(sketch, n_reference, subdivisions)
    g_at, g_left = counts.at_or_below / n, counts.below / n
    outside = max(g_left[0], 1.0 - g_at[-1])
    ks = max(outside, float(np.max(np.abs(f_at - g_at))), float(np.max(np.abs(f_left - g_left))))
    # Cell i runs from grid point i (value at it) to grid point i + 1 (limit from the left).
    f_start, f_end = f_at[:-1], f_left[1:]
    g_start, g_end = g_at[:-1], g_left[1:]
    cell_bound = np.maximum(f_end - g_start, g_end - f_start)
    ks_upper = max(ks, float(np.max(cell_bound, initial=0.0)))

    width = np.diff(grid)
    start, end = f_start - g_start, f_end - g_end
    area = width * np.abs(start + end) / 2
    crossing = np.flatnonzero(start * end < 0)
    s, e = np.abs(start[crossing]), np.abs(end[crossing])
    area[crossing] = width[crossing] * (s**2 + e**2) / (2 * (s + e))
    wasserstein = float(area.sum()) + (counts.low_area + counts.high_area) / n
    return GridDistances(
        ks_statistic=ks,
        wasserstein=wasserstein,
        ks_error=ks_upper - ks,
        wasserstein_error=float(np.sum(width * (g_end - g_start))),
    )


# --------------------------------------------------------------------------------------------
# Per-feature rows, as compute_drift writes them
# --------------------------------------------------------------------------------------------


def numeric_row(
    ref: dict[str, Any], counts: GridCounts, subdivisions: int
) -> tuple[dict[str, Any], dict[str, float]]:
    """``compute_drift``'s statistics of one numeric feature from its counts, and the error
    bounds of its KS and Wasserstein distances."""
    missing_ref = float(ref["missing_rate"])
    ref_props = np.append(
        np.asarray(ref["bin_proportions"], dtype=float) * (1 - missing_ref), missing_ref
    )
    bins = np.diff(np.concatenate([[0], counts.bins_at_or_below, [counts.count]]))
    cur_props = np.append(bins, counts.n_rows - counts.count) / counts.n_rows
    n_reference = int(ref["count"])
    ks_statistic = ks_p = wasserstein = normalised = None
    errors: dict[str, float] = {}
    if counts.count and n_reference:
        distances = grid_distances(ref["sketch"], n_reference, counts, subdivisions)
        ks_statistic, wasserstein = distances.ks_statistic, distances.wasserstein
        ks_p = ks_p_value(ks_statistic, n_reference, counts.count)
        normalised = wasserstein / ref["std"] if ref["std"] else None
        errors = {"ks_error": distances.ks_error, "wasserstein_error": distances.wasserstein_error}
    row = {
        "psi": population_stability_index(ref_props, cur_props),
        "wasserstein": wasserstein,
        "wasserstein_normalised": normalised,
        "ks_statistic": ks_statistic,
        "ks_p_value": ks_p,
        **_missing_rates(ref, counts.n_rows - counts.count, counts.n_rows),
    }
    return row, errors


def categorical_row(ref: dict[str, Any], counts: CategoricalCounts) -> dict[str, Any]:
    """``compute_drift``'s statistics of one categorical feature from its summed counts."""
    n_rows = counts.n_rows
    ordered = counts.counts.sort_values(ascending=False, kind="stable")
    frequencies: dict[str, float] = ref["frequencies"]
    seen = ordered.reindex(list(frequencies), fill_value=0).to_numpy(dtype=float)
    unseen = ordered[~ordered.index.isin(list(frequencies))]
    unseen_total = float(unseen.sum())
    ref_props, cur_props = _categorical_distributions(ref, seen, unseen_total, n_rows)
    chi2_statistic = chi2_p = None
    if ordered.sum() and ref["count"]:
        ref_counts = np.round(np.asarray(list(frequencies.values())) * ref["count"])
        chi2_statistic, chi2_p = chi2_two_sample(
            np.append(ref_counts, 0.0), np.append(seen, unseen_total)
        )
    return {
        "psi": population_stability_index(ref_props, cur_props),
        "js_distance": jensen_shannon_distance(ref_props, cur_props),
        "chi2_statistic": chi2_statistic,
        "chi2_p_value": chi2_p,
        **_missing_rates(ref, n_rows - int(ordered.sum()), n_rows),
        "unseen_rate": unseen_total / n_rows,
        "unseen_categories": [str(c) for c in unseen.index[:MAX_UNSEEN_LISTED]],
        "n_unseen_categories": len(unseen),
    }


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

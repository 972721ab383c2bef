"""Mergeable counts of one column, chunk by chunk, and ``compute_drift``'s rows from them.

A numeric column is reduced to ``GridCounts`` on a fine grid derived from the reference sketch,
a categorical one to ``CategoricalCounts``; every field is a sum, so the counts of chunks merge
into those of the column. ``numeric_row`` and ``categorical_row`` turn the sums into the
in-memory path's per-feature statistics: exact, but for KS and Wasserstein, which
``grid_distances`` bounds (see ``modelworks.monitoring.streaming``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from modelworks.monitoring.drift import _missing_rates, categorical_statistics
from modelworks.monitoring.statistics import ks_p_value, population_stability_index

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
    return categorical_statistics(ref, counts.counts, counts.n_rows)

"""Drift of a parquet dataset larger than memory, computed partition by partition on Dask.

``compute_drift`` and ``prediction_drift`` take the whole batch as one frame. Here each Dask
partition is mapped to the *sufficient statistics* those functions need, the statistics are
summed in a tree, and the summary is assembled from the sums with the in-memory path's own
helpers (``drift_summary``, ``judge``, the PSI / Jensen-Shannon / chi-squared / missing-rate
functions), so the verdict rule cannot drift apart from it.

What is reduced, and how exactly:

* row counts, missing counts, bin counts on the profile's edges and category counts are sums,
  hence exact: PSI, Jensen-Shannon, chi-squared, missing rates and unseen rates are the
  in-memory numbers (category strings as ``category_counts`` writes them, per partition);
* KS and Wasserstein against the reference sketch need the *order* of the current values, which
  no bounded mergeable summary keeps. They are still computed exactly, in two passes: the first
  counts the current values at or below every sketch knot; since the reference CDF is linear
  between knots, the statistics split into independent pieces between knots, each needing only
  the sorted values inside it and the (now known) count below it. Below the first knot and above
  the last the reference CDF is constant, so those pieces are closed forms of sums kept in the
  first pass. The interior pieces are grouped into chunks of at most ``max_chunk`` values; each
  chunk's values are gathered from every partition, sorted, and measured with the in-memory
  ``sketch_distances`` on a rescaled sub-sketch. Memory is one chunk (plus one partition), not
  the table; a single knot interval holding more values than ``max_chunk`` is still one chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from modelworks.monitoring.drift import _missing_rates, drift_summary, judge
from modelworks.monitoring.params import DriftParams
from modelworks.monitoring.profile import (
    MISSING_LABEL,
    SCORE_NAME,
    bin_counts,
    bin_labels,
    category_counts,
    check_profile,
    score_profile,
    sorted_finite,
)
from modelworks.monitoring.statistics import (
    ks_p_value,
    population_stability_index,
    sketch_distances,
)
from modelworks.monitoring.streaming import CategoricalCounts, categorical_row

# Current values sorted together in one chunk of the exact KS / Wasserstein pass (~8 bytes
# each, and ``sketch_distances`` holds about ten arrays of that length while it runs).
DEFAULT_MAX_CHUNK = 2_000_000


@dataclass
class NumericStats:
    """Mergeable summary of one numeric column against its reference profile entry."""

    n_rows: int
    count: int  # finite values
    bins: np.ndarray  # counts in the profile's bins
    n_below: np.ndarray  # current values < each sketch knot
    n_at_or_below: np.ndarray  # current values <= each sketch knot
    low_area: float  # sum of (first knot - v) over v below the first knot
    high_area: float  # sum of (v - last knot) over v above the last knot
    total: float  # sum of the finite values, for the mean

    def merge(self, other: NumericStats) -> NumericStats:
        """Both batches' statistics: every field is a sum."""
        return NumericStats(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


Stats = dict[str, NumericStats | CategoricalCounts]


def numeric_statistics(ref: dict[str, Any], values: Any, name: str = "feature") -> NumericStats:
    """The mergeable statistics of one partition's numeric column (missing = NaN / +-inf)."""
    sorted_values, n_rows = sorted_finite(name, values, "current")
    knots = np.asarray(ref["sketch"]["values"], dtype=float)
    low = high = 0.0
    if len(knots) and len(sorted_values):
        low = float(np.sum(knots[0] - sorted_values[sorted_values < knots[0]]))
        high = float(np.sum(sorted_values[sorted_values > knots[-1]] - knots[-1]))
    return NumericStats(
        n_rows=n_rows,
        count=len(sorted_values),
        bins=bin_counts(sorted_values, np.asarray(ref["bin_edges"], dtype=float)),
        n_below=np.searchsorted(sorted_values, knots, side="left").astype(np.int64),
        n_at_or_below=np.searchsorted(sorted_values, knots, side="right").astype(np.int64),
        low_area=low,
        high_area=high,
        total=float(sorted_values.sum()),
    )


def partition_statistics(frame: pd.DataFrame, features: dict[str, dict[str, Any]]) -> Stats:
    """Map step: one partition's statistics for every profiled feature."""
    out: Stats = {}
    for name, ref in features.items():
        if ref["kind"] == "numeric":
            out[name] = numeric_statistics(ref, frame[name], name)
        else:
            out[name] = CategoricalCounts(len(frame), category_counts(frame[name]))
    return out


def merge_statistics(left: Stats, right: Stats) -> Stats:
    """Reduce step: feature by feature sums of two partitions' statistics."""
    return {name: left[name].merge(right[name]) for name in left}  # type: ignore[arg-type]


def reduce_partitions(source: str | Path, features: dict[str, dict[str, Any]]) -> Stats:
    """Map every partition of the parquet dataset to its statistics and sum them in a tree."""
    frame = dd.read_parquet(str(source), columns=list(features))
    spec = dask.delayed(features, pure=True)
    parts = [dask.delayed(partition_statistics)(p, spec) for p in frame.to_delayed()]
    if not parts:
        raise ValueError(f"The dataset {source} has no partitions: there is nothing to compare")
    while len(parts) > 1:
        parts = [
            dask.delayed(merge_statistics)(*parts[i : i + 2]) if i + 1 < len(parts) else parts[i]
            for i in range(0, len(parts), 2)
        ]
    (stats,) = dask.compute(parts[0])
    return stats


# --------------------------------------------------------------------------------------------
# Exact KS / Wasserstein in knot-delimited chunks
# --------------------------------------------------------------------------------------------


def _values_between(frame: pd.DataFrame, name: str, lo: float, hi: float) -> np.ndarray:
    values, _ = sorted_finite(name, frame[name], "current")
    return values[(values > lo) & (values <= hi)]


def _chunk_distances(
    sketch: dict[str, np.ndarray], n_ref: int, a: int, b: int, below: int, n: int, parts: Any
) -> tuple[float, float]:
    """KS and Wasserstein pieces between knots ``a`` and ``b`` (values in (knot a, knot b]).

    ``below`` current values lie at or below knot ``a`` and ``n`` are finite in all. With
    G_chunk the chunk's own empirical CDF, F - G = (k / n) * (F' - G_chunk) where
    F' = (n F - below) / k: a sketch whose counts are ``n * n_below - below * n_ref`` over
    ``k * n_ref`` rows, which ``sketch_distances`` measures exactly as the in-memory path does.
    """
    knots = sketch["values"][a : b + 1]
    n_below = sketch["n_below"][a : b + 1] * float(n) - below * float(n_ref)
    n_at = sketch["n_at_or_below"][a : b + 1] * float(n) - below * float(n_ref)
    values = np.sort(np.concatenate(parts)) if parts else np.empty(0)
    k = len(values)
    if k:
        sub = {"values": knots, "n_below": n_below, "n_at_or_below": n_at}
        ks, area = sketch_distances(sub, k * n_ref, values)  # type: ignore[arg-type]
        return ks * k / n, area * k / n
    # No current value here: G is flat at below / n and F - G is linear between the knots.
    start = n_at[:-1] / (n * n_ref)
    end = n_below[1:] / (n * n_ref)
    width = np.diff(knots)
    areas = width * np.abs(start + end) / 2
    cross = start * end < 0
    s, e = np.abs(start[cross]), np.abs(end[cross])
    areas[cross] = width[cross] * (s**2 + e**2) / (2 * (s + e))
    flat_ks = max(np.max(np.abs(start), initial=0.0), np.max(np.abs(end), initial=0.0))
    return float(flat_ks), float(areas.sum())


def exact_sketch_distances(
    source: str | Path,
    name: str,
    ref: dict[str, Any],
    stats: NumericStats,
    *,
    max_chunk: int = DEFAULT_MAX_CHUNK,
) -> tuple[float, float]:
    """KS statistic and Wasserstein-1 of column ``name`` against the reference sketch, equal to
    ``sketch_distances`` on the whole sorted column, without ever holding it (second pass)."""
    n_ref = int(ref["count"])
    sketch = {k: np.asarray(v, dtype=float) for k, v in ref["sketch"].items()}
    knots, n = sketch["values"], stats.count
    # Outside the knots the reference CDF is 0 (below) or 1 (above): closed forms.
    ks = max(stats.n_below[0] / n, (n - stats.n_at_or_below[-1]) / n)
    area = (stats.low_area + stats.high_area) / n
    at = stats.n_at_or_below
    chunks: list[tuple[int, int]] = []
    start = 0
    for j in range(1, len(knots)):
        if j > start + 1 and at[j] - at[start] > max_chunk:
            chunks.append((start, j - 1))
            start = j - 1
    if len(knots) > 1:
        chunks.append((start, len(knots) - 1))
    frame = dd.read_parquet(str(source), columns=[name]).to_delayed()
    pieces = []
    for a, b in chunks:
        parts = (
            [dask.delayed(_values_between)(p, name, knots[a], knots[b]) for p in frame]
            if at[b] > at[a]
            else []
        )
        pieces.append(dask.delayed(_chunk_distances)(sketch, n_ref, a, b, int(at[a]), n, parts))
    # One chunk at a time: the cluster never holds more than one chunk's values.
    for piece in pieces:
        (result,) = dask.compute(piece)
        ks, area = max(ks, result[0]), area + result[1]
    return float(ks), float(area)


# --------------------------------------------------------------------------------------------
# The summaries, assembled as compute_drift / prediction_drift assemble them
# --------------------------------------------------------------------------------------------


def _numeric_props(ref: dict[str, Any], stats: NumericStats) -> tuple[np.ndarray, np.ndarray]:
    missing_ref = float(ref["missing_rate"])
    ref_props = np.append(
        np.asarray(ref["bin_proportions"], dtype=float) * (1 - missing_ref), missing_ref
    )
    cur_props = np.append(stats.bins, stats.n_rows - stats.count) / stats.n_rows
    return ref_props, cur_props


def numeric_summary(
    source: str | Path, name: str, ref: dict[str, Any], stats: NumericStats, max_chunk: int
) -> dict[str, Any]:
    """``_numeric_statistics`` of the in-memory path, from reduced statistics."""
    ref_props, cur_props = _numeric_props(ref, stats)
    n_reference = int(ref["count"])
    ks_statistic = ks_p = wasserstein = normalised = None
    if stats.count and n_reference:
        ks_statistic, wasserstein = exact_sketch_distances(
            source, name, ref, stats, max_chunk=max_chunk
        )
        ks_p = ks_p_value(ks_statistic, n_reference, stats.count)
        normalised = wasserstein / ref["std"] if ref["std"] else None
    return {
        "psi": population_stability_index(ref_props, cur_props),
        "wasserstein": wasserstein,
        "wasserstein_normalised": normalised,
        "ks_statistic": ks_statistic,
        "ks_p_value": ks_p,
        **_missing_rates(ref, stats.n_rows - stats.count, stats.n_rows),
    }


def partitioned_drift(
    profile: dict[str, Any],
    source: str | Path,
    params: DriftParams,
    *,
    max_chunk: int = DEFAULT_MAX_CHUNK,
) -> dict[str, Any]:
    """``compute_drift``'s summary of a parquet file or folder, read in Dask partitions.

    Runs on the active Dask scheduler (a ``distributed.Client`` when one is open). Same keys,
    same verdict rule, Holm correction and ordering as ``compute_drift``; see the module
    docstring for why every statistic is exact.
    """
    check_profile(profile)
    features: dict[str, dict[str, Any]] = profile["features"]
    missing = [c for c in features if c not in dd.read_parquet(str(source)).columns]
    if missing:
        raise ValueError(f"Features missing from the current frame: {missing}")
    stats = reduce_partitions(source, features)
    n_rows = next(iter(stats.values())).n_rows if stats else 0
    if n_rows == 0:
        raise ValueError("The current frame is empty: there is nothing to compare")
    rows = []
    for name, ref in features.items():
        s = stats[name]
        if isinstance(s, NumericStats):
            body = numeric_summary(source, name, ref, s, max_chunk)
        else:
            body = categorical_row(ref, s)
        rows.append({"feature": name, "kind": ref["kind"], **body})
    return drift_summary(rows, profile, n_rows, params)


def partitioned_prediction_drift(
    profile: dict[str, Any],
    source: str | Path,
    params: DriftParams,
    *,
    column: str = SCORE_NAME,
    stats: NumericStats | None = None,
    max_chunk: int = DEFAULT_MAX_CHUNK,
) -> dict[str, Any]:
    """``prediction_drift``'s summary of the ``column`` of a parquet dataset (scored output).

    ``stats``, when the scorer already reduced them while writing the output, saves the first
    pass; the exact KS / Wasserstein pass always rereads the column.
    """
    ref = score_profile(profile)
    if stats is None:
        reduced = reduce_partitions(source, {column: ref})[column]
        assert isinstance(reduced, NumericStats)
        stats = reduced
    if stats.n_rows == 0:
        raise ValueError("No current scores: there is nothing to compare")
    # ``prediction_drift`` keeps the internal missing-count p-value in its row, and ``judge``
    # reads it; so does this one.
    result = numeric_summary(source, column, ref, stats, max_chunk)
    verdict, reasons = judge(result, result["ks_p_value"], "KS p", params)
    ref_props, cur_props = _numeric_props(ref, stats)
    return {
        "verdict": verdict,
        "reasons": reasons,
        "n_reference": int(ref["count"]),
        "n_current": stats.n_rows,
        "mean_reference": ref["mean"],
        "mean_current": stats.total / stats.count if stats.count else None,
        **result,
        "bins": {
            "labels": [*bin_labels(ref["bin_edges"]), MISSING_LABEL],
            "reference": ref_props.tolist(),
            "current": cur_props.tolist(),
        },
    }

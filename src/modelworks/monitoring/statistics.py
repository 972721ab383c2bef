"""Drift statistics on bucket proportions, on a reference quantile sketch, and across features.

Everything here is vectorised numpy: a feature costs a few passes over its sorted values, never
a Python loop over rows. The sketch functions compare a *sorted* current sample with the
reference sketch of ``build_reference_profile``: knots (reference quantiles, deduplicated) with
the exact number of reference values below and at-or-below each, read as a CDF that is exact at
the knots and linear between them.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import special, stats

# Stands in for an empty bucket in PSI, whose log term is otherwise infinite.
PSI_EPSILON = 1e-4


def population_stability_index(
    reference: np.ndarray, current: np.ndarray, *, epsilon: float = PSI_EPSILON
) -> float:
    """PSI = sum((c - r) * ln(c / r)) over buckets; empty buckets count as ``epsilon``."""
    r = np.maximum(np.asarray(reference, dtype=float), epsilon)
    c = np.maximum(np.asarray(current, dtype=float), epsilon)
    return float(np.sum((c - r) * np.log(c / r)))


def jensen_shannon_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """Square root of the base-2 Jensen-Shannon divergence of two proportion vectors, in [0, 1].

    Unlike PSI it needs no epsilon: a bucket empty on one side contributes a bounded amount,
    so a new category moves it by at most its share of the rows.
    """
    p = np.asarray(reference, dtype=float)
    q = np.asarray(current, dtype=float)
    m = (p + q) / 2
    divergence = (special.rel_entr(p, m).sum() + special.rel_entr(q, m).sum()) / (2 * math.log(2))
    return float(math.sqrt(min(max(divergence, 0.0), 1.0)))


class SketchDistances(NamedTuple):
    """How far a sample lies from the reference sketch."""

    ks_statistic: float
    wasserstein: float


def sketch_distances(
    sketch: dict[str, list[float]], n_reference: int, sorted_values: np.ndarray
) -> SketchDistances:
    """KS statistic and Wasserstein-1 distance between a reference sketch and a sorted sample.

    The reference CDF F is exact at the sketch's knots (both one-sided limits, from the stored
    counts) and linear between them; the current CDF G is a step function. Merged, the knots
    and the current values cut the line into intervals on each of which G is flat and F is
    one line, so |F - G| is linear there: KS, the supremum of |F - G|, is the largest value at
    an interval's two ends, and Wasserstein, its integral, sums trapezoids (or two triangles
    where F crosses G). Both are exact for the sketch's CDF and differ from the statistics
    against the full reference sample only through interpolation between knots. No search
    per value: a handful of vectorised passes over the merged array.
    """
    knots = np.asarray(sketch["values"], dtype=float)
    below = np.asarray(sketch["n_below"], dtype=float) / n_reference
    at_or_below = np.asarray(sketch["n_at_or_below"], dtype=float) / n_reference
    n, m = len(sorted_values), len(knots)

    # Knots go after the current values equal to them, so every interval of non-zero width
    # lies strictly between two knots, in segment s = the number of knots before it: segment 0
    # is below the smallest knot (F = 0), segment m above the largest (F = 1), and segment s
    # in between is the line from F(knot s - 1) up to F(knot s -).
    at = np.searchsorted(sorted_values, knots, side="right")
    points = np.insert(sorted_values, at, knots)
    n_intervals = n + m - 1
    per_segment = np.diff(np.concatenate([[0], at + np.arange(m), [n_intervals]]))
    slope = np.zeros(m + 1)
    intercept = np.zeros(m + 1)
    intercept[m] = 1.0
    slope[1:m] = (below[1:] - at_or_below[:-1]) / np.diff(knots)
    intercept[1:m] = at_or_below[:-1] - slope[1:m] * knots[:-1]
    # G on interval i counts the current values among the first i + 1 points, i.e. i + 1
    # minus the s knots there: F - G = (intercept_s + (s - 1) / n) + slope_s * x - i / n.
    offset = intercept + (np.arange(m + 1) - 1) / n
    slope_i = np.repeat(slope, per_segment)
    width = np.diff(points)
    start = np.repeat(offset, per_segment) + slope_i * points[:-1]
    start -= np.arange(n_intervals) / n
    end = start + slope_i * width

    # Zero-width intervals (repeated values, values on a knot) are points, not intervals.
    has_width = width > 0
    ks = max(
        float(np.max(np.abs(start), where=has_width, initial=0.0)),
        float(np.max(np.abs(end), where=has_width, initial=0.0)),
    )
    area = width * np.abs(start + end) / 2
    crossing = np.flatnonzero(start * end < 0)
    s, e = np.abs(start[crossing]), np.abs(end[crossing])
    area[crossing] = width[crossing] * (s**2 + e**2) / (2 * (s + e))
    return SketchDistances(ks_statistic=ks, wasserstein=float(area.sum()))


def ks_p_value(statistic: float, n_reference: int, n_current: int) -> float:
    """Asymptotic two-sample KS p-value with Stephens' small-sample correction.

    scipy's exact ``kstwo`` takes tens of milliseconds per call beyond a few thousand rows;
    this is within a few percent of it at every sample size and costs nothing.
    """
    root = math.sqrt(n_reference * n_current / (n_reference + n_current))
    return float(special.kolmogorov((root + 0.12 + 0.11 / root) * statistic))


def chi2_two_sample(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Chi-squared test of homogeneity of two count vectors over the same categories.

    Two-sample rather than goodness-of-fit because the reference frequencies are estimates
    too: against a small training set, a large batch would otherwise reject on sampling noise.
    With a reference much larger than the batch the expected counts tend to ``n * frequency``.
    """
    table = np.vstack([reference, current]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, float(stats.chi2.sf(statistic, table.shape[1] - 1))


def holm_correction(p_values: list[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values; ``None`` (no test) stays ``None`` and is not counted."""
    index = [i for i, p in enumerate(p_values) if p is not None]
    raw = np.array([p_values[i] for i in index], dtype=float)
    order = np.argsort(raw, kind="stable")
    m = len(raw)
    scaled = np.minimum(1.0, (m - np.arange(m)) * raw[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    out: list[float | None] = [None] * len(p_values)
    for i, p in zip(index, adjusted, strict=True):
        out[i] = float(p)
    return out


def two_proportion_p_value(p1: float, n1: float, p2: float, n2: float) -> float:
    """Two-sided p-value of a z-test that two rates, over ``n1`` and ``n2`` rows, are equal."""
    if n1 <= 0 or n2 <= 0:
        return 1.0
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return 1.0 if p1 == p2 else 0.0
    return float(2 * stats.norm.sf(abs(p1 - p2) / math.sqrt(variance)))

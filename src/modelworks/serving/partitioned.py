"""Batch scoring of a parquet dataset larger than memory, partition by partition on Dask.

``score_batch`` scores one frame in memory. Here every Dask partition goes through that same
function on a worker, so the predictions (columns, model version, task-specific score columns)
are identical, and is written straight to its own parquet file: the driver never holds the
table, only a few numbers per partition. The model travels once per worker (``client.scatter``
with ``broadcast``) instead of once per task, and loads nothing from the registry on workers.

Output is all or nothing: partitions go to a hidden sibling folder, renamed onto ``output`` only
once every partition succeeded; on any failure the folder is removed after every task has
stopped, so a reader never sees half a batch.

The score distribution ``score_distribution`` reports is reduced from the partitions as well:
count, sum and histogram are sums; the quantiles are exact order statistics found in two more
passes over the written score column (a fine histogram locates each rank's bin, then only the
values of those bins are gathered and sorted).
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from modelworks.monitoring.params import DriftParams
from modelworks.monitoring.partitioned import (
    NumericStats,
    numeric_statistics,
    partitioned_prediction_drift,
)
from modelworks.serving.batch import SUMMARY_QUANTILES, ScoringParams, score_batch
from modelworks.serving.datasets import ServedModel

# Bins of the histogram that locates each quantile's rank before its bin's values are sorted.
LOCATOR_BINS = 4096


@dataclass(frozen=True)
class PartitionedScoring:
    """What a partitioned scoring run produced."""

    rows: int
    output: Path
    partitions: int
    summary: dict[str, Any]
    """``score_distribution``'s summary of all the scores."""
    prediction_drift: dict[str, Any] | None = None
    """``prediction_drift``'s summary, when drift parameters and a score profile were given."""


def _score_partition(
    model: ServedModel,
    frame: pd.DataFrame,
    path: str,
    params: ScoringParams,
    scored_at: datetime,
    score_ref: dict[str, Any] | None,
) -> dict[str, Any]:
    """Worker side: score one partition, write it, return its row count and score sums."""
    predictions, _ = score_batch(model, frame, params)
    predictions["scored_at"] = pd.Timestamp(scored_at)  # one timestamp for the whole run
    predictions.to_parquet(path, index=False)
    scores = np.asarray(predictions["score"], dtype=float)
    return {
        "rows": len(predictions),
        "sum": float(scores.sum()),
        "min": float(scores.min()) if len(scores) else np.inf,
        "max": float(scores.max()) if len(scores) else -np.inf,
        "stats": None if score_ref is None else numeric_statistics(score_ref, scores, "score"),
    }


def score_parquet(
    model: ServedModel,
    source: str | Path,
    output: str | Path,
    params: ScoringParams,
    *,
    client: Any = None,
    drift: DriftParams | None = None,
    overwrite: bool = False,
) -> PartitionedScoring:
    """Score every row of a parquet file or folder into a folder of parquet partitions.

    One output file per input partition (``part-00000.parquet`` ...), in input order, each
    row keeping its id columns, so order and identity both survive. ``client`` (a
    ``distributed.Client``) runs the partitions on its workers with the model scattered once to
    each; without one the active Dask scheduler is used. ``drift`` adds the prediction drift
    against the model's reference profile (which must have scores). ``output`` must not exist
    unless ``overwrite``; it appears only when every partition succeeded.
    """
    output = Path(output)
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists: pass overwrite=True to replace it")
    frame = dd.read_parquet(str(source))
    score_ref = None
    if drift is not None:
        if not model.reference_profile or not model.reference_profile.get("scores"):
            raise ValueError("Prediction drift needs a reference profile with scores")
        score_ref = model.reference_profile["scores"]
    staging = output.parent / f".{output.name}.tmp-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    scored_at = datetime.now(UTC)
    shipped: Any = (
        client.scatter(model, broadcast=True, hash=False)
        if client is not None
        else dask.delayed(model, pure=True)
    )
    tasks = [
        dask.delayed(_score_partition)(
            shipped, part, str(staging / f"part-{i:05d}.parquet"), params, scored_at, score_ref
        )
        for i, part in enumerate(frame.to_delayed())
    ]
    try:
        if client is not None:
            futures = client.compute(tasks)
            try:
                parts = client.gather(futures)
            except BaseException:
                # Let the other partitions finish or fail before their folder goes.
                from distributed import wait

                wait(futures)
                raise
        else:
            parts = list(dask.compute(*tasks))
        summary = _summary(model, staging, parts, params.histogram_bins, scored_at)
        stats = _merged_stats(parts)
        prediction = (
            partitioned_prediction_drift(model.reference_profile or {}, staging, drift, stats=stats)
            if drift is not None
            else None
        )
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _publish(staging, output)
    return PartitionedScoring(
        rows=int(summary["rows"]),
        output=output,
        partitions=len(parts),
        summary=summary,
        prediction_drift=prediction,
    )


def _publish(staging: Path, output: Path) -> None:
    """Rename the finished folder onto ``output``; a replaced one is removed only afterwards."""
    old = None
    if output.exists():
        old = output.parent / f".{output.name}.old-{uuid.uuid4().hex}"
        output.rename(old)
    staging.rename(output)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _merged_stats(parts: list[dict[str, Any]]) -> NumericStats | None:
    stats = [p["stats"] for p in parts if p["stats"] is not None]
    if not stats:
        return None
    merged: NumericStats = stats[0]
    for more in stats[1:]:
        merged = merged.merge(more)
    return merged


# --------------------------------------------------------------------------------------------
# The score distribution, as score_distribution reports it
# --------------------------------------------------------------------------------------------


def _bin_index(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """The locator bin of each value; the one formula both passes use, so they agree."""
    if hi <= lo:
        return np.zeros(len(values), dtype=np.intp)
    index = ((values - lo) / (hi - lo) * LOCATOR_BINS).astype(np.intp)
    return np.clip(index, 0, LOCATOR_BINS - 1)


def _histograms(
    frame: pd.DataFrame, lo: float, hi: float, bins: int, value_range: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    scores = frame["score"].to_numpy(dtype=float)
    locator = np.bincount(_bin_index(scores, lo, hi), minlength=LOCATOR_BINS)
    counts, _ = np.histogram(scores, bins=bins, range=value_range)
    return locator, counts


def _values_in_bins(
    frame: pd.DataFrame, lo: float, hi: float, wanted: list[int]
) -> dict[int, np.ndarray]:
    scores = frame["score"].to_numpy(dtype=float)
    index = _bin_index(scores, lo, hi)
    return {b: scores[index == b] for b in wanted}


def _select(
    parts: list[Any], probs: tuple[float, ...], n: int, lo: float, hi: float, locator: np.ndarray
) -> tuple[dict[float, float], np.ndarray]:
    cumulative = np.cumsum(locator)
    ranks: dict[float, tuple[int, int, float]] = {}
    for q in probs:
        position = q * (n - 1)
        lower = int(np.floor(position))
        ranks[q] = (lower, min(lower + 1, n - 1), position - lower)
    needed = sorted({r for lower, upper, _ in ranks.values() for r in (lower, upper)})
    bin_of = {r: int(np.searchsorted(cumulative, r, side="right")) for r in needed}
    wanted = sorted(set(bin_of.values()))
    pieces = dask.compute(*[dask.delayed(_values_in_bins)(p, lo, hi, wanted) for p in parts])
    sorted_bins = {b: np.sort(np.concatenate([piece[b] for piece in pieces])) for b in wanted}

    def value(rank: int) -> float:
        b = bin_of[rank]
        before = int(cumulative[b - 1]) if b else 0
        return float(sorted_bins[b][rank - before])

    result = {}
    for q, (lower, upper, fraction) in ranks.items():
        low = value(lower)
        result[q] = low + fraction * (value(upper) - low)
    return result, locator


def _summary(
    model: ServedModel,
    folder: Path,
    parts: list[dict[str, Any]],
    bins: int,
    scored_at: datetime,
) -> dict[str, Any]:
    """``score_distribution``'s keys, from the partitions' sums and the written score column."""
    from modelworks.tasks import get_task

    n = sum(int(p["rows"]) for p in parts)
    value_range = get_task(model.task).score_range()
    quantiles: dict[str, float] = {}
    mean = None
    lo, hi = 0.0, 1.0
    if n:
        lo, hi = min(p["min"] for p in parts), max(p["max"] for p in parts)
        mean = sum(p["sum"] for p in parts) / n
    if value_range is None:
        value_range = (lo, hi) if n else (0.0, 1.0)
    columns = dd.read_parquet(str(folder), columns=["score"]).to_delayed()
    hists = dask.compute(
        *[dask.delayed(_histograms)(p, lo, hi, bins, value_range) for p in columns]
    )
    locator = np.sum([h[0] for h in hists], axis=0)
    counts = np.sum([h[1] for h in hists], axis=0)
    if n:
        found, _ = _select(columns, SUMMARY_QUANTILES, n, lo, hi, locator)
        quantiles = {f"p{round(q * 100):02d}": found[q] for q in SUMMARY_QUANTILES}
    edges = np.histogram_bin_edges(np.empty(0), bins=bins, range=value_range)
    return {
        "model_name": model.name,
        "model_version": model.version,
        "scored_at": scored_at.isoformat(timespec="seconds"),
        "rows": n,
        "mean": mean,
        "quantiles": quantiles,
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
    }

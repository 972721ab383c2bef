"""Batch scoring: the champion on the current entities, and the distribution it predicted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from modelworks.params import StrictModel
from modelworks.serving.datasets import ServedModel
from modelworks.serving.limits import OnlineParams

SUMMARY_QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)


class ScoringParams(StrictModel):
    """Which columns identify a scored row in the output, next to its score; and what the
    online server (``modelworks serve``) accepts, under ``online``."""

    id_columns: list[str]
    histogram_bins: int = 20
    online: OnlineParams = Field(default_factory=OnlineParams)


def score_batch(
    model: ServedModel, rows: pd.DataFrame, params: ScoringParams
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Each row's prediction with the model version that produced it, and the score
    distribution; the model's task says which columns a prediction fills (``score`` always)."""
    from modelworks.tasks import get_task

    missing = [c for c in params.id_columns if c not in rows.columns]
    if missing:
        raise ValueError(
            f"Scoring rows lack id column(s) {missing}; they have {list(rows.columns)}"
        )
    task = get_task(model.task)
    columns = task.scoring_columns(model.predict(rows))
    scored_at = datetime.now(UTC)
    predictions = rows[params.id_columns].reset_index(drop=True)
    for name, values in columns.items():
        predictions[name] = values
    predictions["model_name"] = model.name
    predictions["model_version"] = model.version
    predictions["scored_at"] = pd.Timestamp(scored_at)
    scores = np.asarray(columns["score"], dtype=float)
    summary = score_distribution(
        scores, model, params.histogram_bins, scored_at, value_range=task.score_range()
    )
    return predictions, summary


def score_distribution(
    scores: np.ndarray,
    model: ServedModel,
    bins: int,
    scored_at: datetime,
    *,
    value_range: tuple[float, float] | None = (0.0, 1.0),
) -> dict[str, Any]:
    """Quantiles and a histogram of the scores, for prediction-drift monitoring: fixed bins
    over ``value_range`` (probabilities), or over the batch's own range (predicted values)."""
    if value_range is None and len(scores):
        value_range = (float(np.min(scores)), float(np.max(scores)))
    counts, edges = np.histogram(scores, bins=bins, range=value_range)
    return {
        "model_name": model.name,
        "model_version": model.version,
        "scored_at": scored_at.isoformat(timespec="seconds"),
        "rows": len(scores),
        "mean": float(np.mean(scores)) if len(scores) else None,
        "quantiles": {
            f"p{round(q * 100):02d}": float(np.quantile(scores, q)) for q in SUMMARY_QUANTILES
        }
        if len(scores)
        else {},
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
    }

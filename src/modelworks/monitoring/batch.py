"""One monitoring run over a scoring batch: feature drift, prediction drift and performance."""

from __future__ import annotations

from typing import Any

import pandas as pd

from modelworks.monitoring.drift import SEVERITY, compute_drift, prediction_drift
from modelworks.monitoring.metrics import realised_performance
from modelworks.monitoring.params import DriftParams
from modelworks.monitoring.performance import estimate_performance
from modelworks.monitoring.profile import score_profile


def monitor_batch(
    profile: dict[str, Any],
    current: pd.DataFrame,
    params: DriftParams,
    *,
    scores: Any = None,
    labels: Any = None,
    threshold: float = 0.5,
    run: str | None = None,
) -> dict[str, Any]:
    """The JSON summary of one batch, as ``render_monitoring_report`` reads it.

    ``compute_drift``'s summary, plus ``run`` (the caller's name for the batch, e.g. its date,
    shown on the report's trend), ``reference_performance`` (realised on the labelled reference
    rows, from the profile), ``prediction_drift`` when ``scores`` are given (the profile must
    have scores), ``estimated_performance`` when the profile also has a calibration map, and
    ``realised_performance`` when ``labels`` are given.
    Labels that arrive later can be scored with ``realised_performance`` and stored under
    that key of the batch's summary. ``verdict`` is the worst of the features and the scores.
    """
    summary = compute_drift(profile, current, params)
    ref_scores = profile.get("scores")
    prediction = estimated = realised = None
    if scores is not None:
        calibration = score_profile(profile)["calibration"]  # refuses a profile without scores
        prediction = prediction_drift(profile, scores, params)
        if calibration is not None:
            estimated = estimate_performance(profile, scores, threshold=threshold)
    if labels is not None:
        if scores is None:
            raise ValueError("Labels were given without scores: realised performance needs both")
        realised = realised_performance(scores, labels, threshold=threshold)
    verdicts = [summary["verdict"]] + ([prediction["verdict"]] if prediction else [])
    return summary | {
        "run": run,
        "verdict": max(verdicts, key=SEVERITY.__getitem__),
        "reference_performance": None if ref_scores is None else ref_scores.get("performance"),
        "prediction_drift": prediction,
        "estimated_performance": estimated,
        "realised_performance": realised,
    }

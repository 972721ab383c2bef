"""Drift monitoring nodes: a reference profile from training rows, drift of the newest batch."""

from __future__ import annotations

from typing import Any

import pandas as pd
from kedro.pipeline import Pipeline, node

from modelworks.monitoring import DriftParams, build_reference_profile, compute_drift
from modelworks.monitoring import render_drift_report as render_html
from modelworks.pipelines.training import RegistryParams, TrainingParams


def profile_reference(
    training_rows: pd.DataFrame, training: TrainingParams, monitoring: DriftParams
) -> dict[str, Any]:
    """Summarise the model's training features once, so monitoring never reloads them."""
    return build_reference_profile(
        training_rows,
        numeric=training.features.numeric,
        categorical=training.features.categorical,
        n_bins=monitoring.n_bins,
    )


def detect_drift(
    reference_profile: dict[str, Any], scoring_features: pd.DataFrame, monitoring: DriftParams
) -> dict[str, Any]:
    """Per-feature drift of the newest scoring batch against the training reference."""
    return compute_drift(reference_profile, scoring_features, monitoring)


def render_drift_report(
    drift_summary: dict[str, Any],
    reference_profile: dict[str, Any],
    scoring_features: pd.DataFrame,
    registry: RegistryParams,
) -> str:
    """A self-contained HTML page a person can read."""
    title = f"Drift of the newest scoring batch: {registry.model_name}"
    return render_html(drift_summary, reference_profile, scoring_features, title=title)


def drift_monitoring_pipeline() -> Pipeline:
    """``training_rows`` + ``scoring_features`` -> ``drift_summary`` (JSON) + ``drift_report``."""
    return Pipeline(
        [
            node(
                profile_reference,
                inputs=["training_rows", "params:training", "params:monitoring"],
                outputs="reference_profile",
                name="profile_reference",
            ),
            node(
                detect_drift,
                inputs=["reference_profile", "scoring_features", "params:monitoring"],
                outputs="drift_summary",
                name="detect_drift",
            ),
            node(
                render_drift_report,
                inputs=[
                    "drift_summary",
                    "reference_profile",
                    "scoring_features",
                    "params:registry",
                ],
                outputs="drift_report",
                name="render_drift_report",
            ),
        ]
    )

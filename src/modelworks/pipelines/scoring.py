"""Batch scoring with the champion: one factory every use case can add."""

from __future__ import annotations

from typing import Any

import pandas as pd
from kedro.pipeline import Pipeline, node

from modelworks.serving.batch import ScoringParams, score_batch
from modelworks.serving.datasets import ServedModel


def score_after_registration(
    model: ServedModel, rows: pd.DataFrame, params: ScoringParams, registry_decision: dict[str, Any]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``score_batch``, ordered after this run's registry decision so it uses its champion."""
    return score_batch(model, rows, params)


def batch_scoring_pipeline(
    rows: str = "scoring_features", *, after_training: bool = False
) -> Pipeline:
    """``champion_model`` + ``rows`` -> ``predictions`` (with model version) and
    ``prediction_summary`` (the score distribution, for monitoring).

    ``after_training`` makes scoring wait for the same run's ``registry_decision``: the
    champion is a registry alias, not a node output, so Kedro cannot see that dependency.
    """
    inputs = ["champion_model", rows, "params:scoring"]
    func: Any = score_batch
    if after_training:
        inputs.append("registry_decision")
        func = score_after_registration
    return Pipeline(
        [
            node(
                func,
                inputs=inputs,
                outputs=["predictions", "prediction_summary"],
                name="score_batch",
            )
        ]
    )

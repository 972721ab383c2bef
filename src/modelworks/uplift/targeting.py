"""Targeting with the champion, and measuring it: what uplift adds to the lifecycle's batch
scoring and monitoring.

* ``targeting_pipeline``: the champion's scored batch (``predictions``, from
  ``modelworks.pipelines.batch_scoring_pipeline``) becomes a treatment list: rows ranked by
  predicted revenue uplift, treated while it exceeds the cost, around two random holdouts
  (``policy.assign_treatments``).
* ``holdout_uplift_pipeline``: once the list's outcomes arrive, the realised uplift on its
  random holdouts, per decile and overall (``monitoring.measure_holdouts``); the lifecycle's
  champion monitoring records it in its summary and the uplift retrain decision reads it there.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from kedro.pipeline import Pipeline, node

from modelworks.uplift.monitoring import holdouts_with_outcomes, measure_holdouts
from modelworks.uplift.params import UpliftScoringParams, UpliftTrainingParams
from modelworks.uplift.plots import uplift_by_decile_figure
from modelworks.uplift.policy import TargetingPolicy, assign_treatments
from modelworks.uplift.serving import REVENUE_UPLIFT, UPLIFT


def build_treatment_list(
    predictions: pd.DataFrame,
    policy: TargetingPolicy,
    scoring: UpliftScoringParams,
    training: UpliftTrainingParams,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every scored row ranked by predicted revenue uplift, with its holdout group and the
    decision, and a summary of what the list costs and is expected to bring.

    The list keeps each row's value at stake, which measuring its holdouts adjusts for, so it
    must be among the scored rows' ``scoring.id_columns``.
    """
    needed = [scoring.key, training.value_at_stake, REVENUE_UPLIFT]
    missing = [c for c in needed if c not in predictions.columns]
    if missing:
        raise ValueError(
            f"The scored rows lack column(s) {missing} a treatment list needs (list the key and "
            f"{training.value_at_stake!r} in scoring.id_columns); they have "
            f"{list(predictions.columns)}"
        )
    assigned = assign_treatments(predictions, score=REVENUE_UPLIFT, key=scoring.key, policy=policy)
    return assigned, summarise_treatment_list(assigned, policy)


def summarise_treatment_list(assigned: pd.DataFrame, policy: TargetingPolicy) -> dict[str, Any]:
    """Counts per group, treatments, and the revenue they are predicted to add over their cost."""
    treated = assigned["treat"] == 1
    gain = float(assigned.loc[treated, REVENUE_UPLIFT].sum())
    cost = policy.cost * int(treated.sum())
    first = assigned.iloc[0] if len(assigned) else None
    return {
        "model_name": None if first is None else str(first["model_name"]),
        "model_version": None if first is None else str(first["model_version"]),
        "scored_at": None
        if first is None
        else pd.Timestamp(first["scored_at"]).isoformat(timespec="seconds"),
        "rows": len(assigned),
        "groups": {str(k): int(v) for k, v in assigned["group"].value_counts().items()},
        "treated": int(treated.sum()),
        "treated_share": float(treated.mean()) if len(assigned) else 0.0,
        "profitable_fraction": float((assigned[REVENUE_UPLIFT] > policy.cost).mean())
        if len(assigned)
        else 0.0,
        "predicted_uplift_mean": float(assigned[UPLIFT].mean()) if len(assigned) else None,
        "predicted_revenue_gain": gain,
        "treatment_cost": cost,
        "predicted_net_gain": gain - cost,
    }


def measure_holdout_uplift(
    treatment_list: pd.DataFrame,
    outcomes: pd.DataFrame,
    training: UpliftTrainingParams,
    scoring: UpliftScoringParams,
) -> tuple[dict[str, Any], Any]:
    """Realised uplift on the list's random holdouts, per decile and overall, and its chart
    (a matplotlib figure; Kedro resolves node annotations at run time, matplotlib loads late)."""
    held = holdouts_with_outcomes(
        treatment_list, outcomes, key=scoring.key, columns=[training.outcome, training.value]
    )
    report = measure_holdouts(
        held,
        outcome=training.outcome,
        score=UPLIFT,
        value=training.value,
        value_score=REVENUE_UPLIFT,
        value_at_stake=training.value_at_stake,
    )
    versions = sorted(treatment_list["model_version"].astype(str).unique())
    report = {"list_model_versions": versions, **report}
    figure = uplift_by_decile_figure(
        pd.DataFrame(report["deciles"]),
        title="Realised uplift on the random holdouts, by decile of the targeting score",
    )
    return report, figure


def targeting_pipeline(
    predictions: str = "predictions", *, output: str = "treatment_list"
) -> Pipeline:
    """``predictions`` (the champion's scored batch) -> ``output`` (ranked rows, holdout groups,
    decisions) and ``<output>_summary``."""
    return Pipeline(
        [
            node(
                build_treatment_list,
                inputs=[predictions, "params:targeting", "params:scoring", "params:training"],
                outputs=[output, f"{output}_summary"],
                name=f"build_{output}",
            )
        ]
    )


def holdout_uplift_pipeline(
    *, treatment_list: str = "treatment_list", outcomes: str = "outcomes"
) -> Pipeline:
    """``treatment_list`` + its ``outcomes`` -> ``holdout_uplift`` (JSON) and
    ``holdout_uplift_plot``, which ``champion_monitoring_pipeline(measured="holdout_uplift")``
    adds to the champion's monitoring summary."""
    return Pipeline(
        [
            node(
                measure_holdout_uplift,
                inputs=[treatment_list, outcomes, "params:training", "params:scoring"],
                outputs=["holdout_uplift", "holdout_uplift_plot"],
                name="measure_holdout_uplift",
            )
        ]
    )

"""What a ranking use case watches: the models side by side, the new model's reference and the
drift of the latest period against it, and the champion's own watch over the latest period.

A recommender's reference is what it saw in the ``window_days`` before its cutoff: its users'
features at each request, the catalogue at the cutoff and the interactions per item
(``monitoring.build_recommender_profile``); the latest period is compared with it by the
framework's drift statistics and by the shift of demand across items. These nodes take the
place of the framework's ``drift_monitoring_pipeline`` (``ranking_judging_pipeline``) and of
the champion's summary and report in its ``champion_monitoring_pipeline``
(``ranking_watch_pipeline``), whose retrain decision reads the summary's verdict.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from kedro.pipeline import Pipeline, node

# at run time too: Kedro reads node annotations (get_type_hints) to validate inputs
from matplotlib.figure import Figure

from modelworks.pipelines.monitoring import past_runs
from modelworks.pipelines.training import RegistryParams, was_skipped
from modelworks.recommenders.monitoring import (
    build_recommender_profile,
    compare_to_profile,
    render_recommender_report,
)
from modelworks.recommenders.params import RecommenderMonitoringParams, RecommenderTrainingParams
from modelworks.recommenders.rows import CUTOFF, END, requests, snapshot
from modelworks.serving.datasets import ServedModel
from modelworks.tasks import get_task


def compare_models(candidates: list[dict[str, Any]]) -> Figure:
    """Holdout NDCG@10 of every candidate and baseline, all, warm and cold-start users."""
    from modelworks.recommenders.plots import message_figure, ndcg_figure

    if candidates:
        return ndcg_figure(candidates)
    return message_figure("No model was trained in this run.")


def profile_reference(
    training_set: pd.DataFrame,
    item_snapshots: pd.DataFrame,
    time_split: dict[str, str],
    best: dict[str, Any],
    training: RecommenderTrainingParams,
    monitoring: RecommenderMonitoringParams,
) -> dict[str, Any]:
    """What the new model saw in the ``window_days`` before the cutoff: its users' features at
    each request, the catalogue at the cutoff and the interactions per item."""
    if was_skipped(best):
        return best
    cutoff = pd.Timestamp(time_split[CUTOFF])
    window = training_set.loc[
        training_set[training.time_column] > cutoff - pd.Timedelta(days=monitoring.window_days)
    ]
    catalogue = snapshot(item_snapshots, CUTOFF)
    return build_recommender_profile(
        requests(window, training),
        catalogue.loc[catalogue[training.items.key].isin(training_set[training.items.key])],
        window[training.items.key].value_counts(),
        params=monitoring,
    )


def detect_drift(
    reference_profile: dict[str, Any],
    holdout_set: pd.DataFrame,
    item_snapshots: pd.DataFrame,
    training: RecommenderTrainingParams,
    monitoring: RecommenderMonitoringParams,
) -> dict[str, Any]:
    """The latest period against the reference: user features at its requests, the catalogue
    at the end, and the shift of interactions across items."""
    if was_skipped(reference_profile):
        return reference_profile
    return compare_to_profile(
        reference_profile,
        requests(holdout_set, training),
        snapshot(item_snapshots, END),
        holdout_set[training.items.key].value_counts(),
        params=monitoring,
    )


def render_drift_report(
    drift_summary: dict[str, Any],
    reference_profile: dict[str, Any],
    holdout_set: pd.DataFrame,
    item_snapshots: pd.DataFrame,
    training: RecommenderTrainingParams,
    registry: RegistryParams,
) -> str:
    """A self-contained HTML page a person can read, in the monitoring report's layout."""
    if was_skipped(drift_summary):
        return "<!doctype html><title>No new model</title><p>No model was trained in this run.</p>"
    described = {"model_name": registry.model_name, "model_version": "newly trained"}
    return render_recommender_report(
        drift_summary | described | _notes(training.task),
        reference_profile,
        requests(holdout_set, training),
        snapshot(item_snapshots, END),
        title=f"Drift of the latest period: {registry.model_name}",
    )


def monitor_recommender(
    champion: ServedModel,
    holdout_set: pd.DataFrame,
    item_snapshots: pd.DataFrame,
    training: RecommenderTrainingParams,
    monitoring: RecommenderMonitoringParams,
) -> dict[str, Any]:
    """The champion's reference against the latest period."""
    if champion.reference_profile is None:
        raise ValueError(
            f"{champion.name} v{champion.version} was registered without a reference profile: "
            "retrain it with this version of modelworks to monitor it"
        )
    summary = detect_drift(
        champion.reference_profile, holdout_set, item_snapshots, training, monitoring
    )
    return summary | {
        "model_name": champion.name,
        "model_version": champion.version,
        **_notes(champion.task),
    }


def render_monitoring_report(
    summary: dict[str, Any],
    history: list[dict[str, Any]] | dict[str, Any],
    decision: dict[str, Any],
    champion: ServedModel,
    holdout_set: pd.DataFrame,
    item_snapshots: pd.DataFrame,
    training: RecommenderTrainingParams,
) -> str:
    """The champion's monitoring page, with the retrain decision taken on this run and the
    trend over every recorded run."""
    return render_recommender_report(
        summary,
        champion.reference_profile or {},
        requests(holdout_set, training),
        snapshot(item_snapshots, END),
        title=f"Monitoring of {champion.name} v{champion.version}",
        history=past_runs(history),
        decision=decision,
    )


def _notes(task: str) -> dict[str, Any]:
    """The task and what its report says in place of prediction drift and performance."""
    return {
        "task": task,
        "performance_note": get_task(task).monitoring_note(),
        "prediction_note": (
            "Not measured for this task: the watch compares the users and the catalogue the "
            "model reads and the demand across items, not the scores of its ranked lists."
        ),
    }


def ranking_judging_pipeline() -> Pipeline:
    """``candidates`` -> ``model_comparison`` (a figure); ``best_candidate`` + the training and
    latest period's requests + ``item_snapshots`` -> ``reference_profile``, ``drift_summary``
    and ``drift_report``: what the registry stores with the new model and its gate reads."""
    latest = ["holdout_set", "item_snapshots", "params:training"]
    reference = ["training_set", "item_snapshots", "time_split", "best_candidate"]
    return Pipeline(
        [
            node(compare_models, "candidates", "model_comparison", name="compare_models"),
            node(
                profile_reference,
                inputs=[*reference, "params:training", "params:monitoring"],
                outputs="reference_profile",
                name="profile_reference",
            ),
            node(
                detect_drift,
                inputs=["reference_profile", *latest, "params:monitoring"],
                outputs="drift_summary",
                name="detect_drift",
            ),
            node(
                render_drift_report,
                inputs=["drift_summary", "reference_profile", *latest, "params:registry"],
                outputs="drift_report",
                name="render_drift_report",
            ),
        ]
    )


def ranking_watch_pipeline() -> Pipeline:
    """``champion_model`` + the latest period (``holdout_set``, ``item_snapshots``) ->
    ``monitoring_summary``, and with ``monitoring_history`` and ``retrain_decision`` ->
    ``monitoring_report``: the ``watch`` of the framework's
    ``champion_monitoring_pipeline("holdout_set", watch=...)``."""
    inputs = ["champion_model", "holdout_set", "item_snapshots", "params:training"]
    return Pipeline(
        [
            node(
                monitor_recommender,
                inputs=[*inputs, "params:monitoring"],
                outputs="monitoring_summary",
                name="monitor_recommender",
            ),
            node(
                render_monitoring_report,
                inputs=["monitoring_summary", "monitoring_history", "retrain_decision", *inputs],
                outputs="monitoring_report",
                name="render_monitoring_report",
            ),
        ]
    )

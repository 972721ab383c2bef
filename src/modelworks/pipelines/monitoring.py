"""Monitoring nodes: the reference profile a new model is registered with, drift of the newest
batch against it, and the champion's monitoring run that feeds the retrain decision."""

from __future__ import annotations

from functools import partial, update_wrapper
from typing import Any

import pandas as pd
from kedro.pipeline import Pipeline, node

from modelworks.monitoring import (
    DriftParams,
    build_reference_profile,
    compute_drift,
    monitor_batch,
    render_monitoring_report,
)
from modelworks.pipelines.training import RegistryParams, TrainingParams, was_skipped
from modelworks.scheduling.decision import RetrainPolicy
from modelworks.serving.datasets import ServedModel
from modelworks.tasks import get_task


def profile_reference(
    holdout_rows: pd.DataFrame,
    best: dict[str, Any],
    training: TrainingParams,
    monitoring: DriftParams,
) -> dict[str, Any]:
    """Summarise the holdout once: features, the new model's scores and, for a calibrated
    task, its calibration map; a task's categorical signals (predicted-class shares) beside.

    The out-of-time holdout is the newest labelled data and was scored out of sample, which is
    what a calibration map for label-free performance estimation needs.
    """
    if was_skipped(best):
        return best
    task = get_task(training.task)
    profile = build_reference_profile(
        holdout_rows,
        numeric=training.features.numeric,
        categorical=training.features.categorical,
        n_bins=monitoring.n_bins,
        scores=best["holdout_scores"],
        labels=task.reference_labels(holdout_rows, training),
    )
    if profile["scores"] is not None and profile["scores"]["performance"] is None:
        # Without a calibration map the reference is the holdout's own metrics, which a
        # realised batch is compared with.
        profile["scores"]["performance"] = dict(best["holdout"])
    signals = best.get("holdout_signals") or {}
    if signals:
        profile["signals"] = build_reference_profile(
            pd.DataFrame(signals), numeric=[], categorical=list(signals), n_bins=monitoring.n_bins
        )["features"]
    return profile


def detect_drift(
    reference_profile: dict[str, Any],
    scoring_features: pd.DataFrame,
    monitoring: DriftParams,
) -> dict[str, Any]:
    """Per-feature drift of the newest scoring batch against the new model's reference."""
    if was_skipped(reference_profile):
        return reference_profile
    return compute_drift(reference_profile, scoring_features, monitoring)


def render_drift_report(
    drift_summary: dict[str, Any],
    reference_profile: dict[str, Any],
    scoring_features: pd.DataFrame,
    registry: RegistryParams,
) -> str:
    """A self-contained HTML page a person can read."""
    if was_skipped(drift_summary):
        return "<!doctype html><title>No new model</title><p>No model was trained in this run.</p>"
    title = f"Drift of the newest scoring batch: {registry.model_name}"
    return render_monitoring_report(drift_summary, reference_profile, scoring_features, title=title)


def monitor_champion(
    champion: ServedModel,
    batch: pd.DataFrame,
    training: TrainingParams,
    monitoring: DriftParams,
    measured: dict[str, Any] | None = None,
    *,
    measured_as: str = "measured",
) -> dict[str, Any]:
    """The champion on the newest batch: feature, score and signal drift against its own
    reference, estimated performance where the task is calibrated, and realised performance
    where the batch already has labels; what was ``measured`` elsewhere (the realised uplift on
    a treatment list's random holdouts) under ``measured_as``."""
    profile = champion.reference_profile
    if profile is None:
        raise ValueError(
            f"{champion.name} v{champion.version} was registered without a reference profile: "
            "retrain it with this version of modelworks to monitor it"
        )
    task = get_task(champion.task)
    predictions = champion.predict(batch)
    profile, batch = _with_signals(task, profile, batch, predictions)
    labelled = training.label in batch.columns and batch[training.label].notna().all()
    summary = monitor_batch(
        profile,
        batch,
        monitoring,
        scores=task.monitored_scores(predictions),
        labels=batch[training.label].to_numpy() if labelled and task.calibrated else None,
        run=pd.Timestamp(batch[training.time_column].max()).date().isoformat(),
    )
    if labelled and not task.calibrated:
        summary["realised_performance"] = task.realised_performance(batch, predictions, training)
    return summary | {
        "model_name": champion.name,
        "model_version": champion.version,
        "task": task.name,
        "performance_note": task.monitoring_note(),
        **({} if measured is None else {measured_as: measured}),
    }


def record_monitoring(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary, appended to the history the report's trend is drawn from."""
    return summary


def render_champion_report(
    summary: dict[str, Any],
    history: list[dict[str, Any]],
    champion: ServedModel,
    batch: pd.DataFrame,
) -> str:
    """The monitoring page of the champion, with the trend over every recorded run."""
    title = f"Monitoring of {champion.name} v{champion.version}"
    profile = champion.reference_profile or {}
    if profile.get("signals"):
        task = get_task(champion.task)
        profile, batch = _with_signals(task, profile, batch, champion.predict(batch))
    return render_monitoring_report(summary, profile, batch, title=title, history=history[-52:])


def _with_signals(
    task: Any, profile: dict[str, Any], batch: pd.DataFrame, predictions: Any
) -> tuple[dict[str, Any], pd.DataFrame]:
    """The profile and the batch with the task's prediction signals (the predicted class) as
    features of their own, so class shares are compared like any categorical feature."""
    signals = task.monitoring_signals(predictions)
    if not signals or not profile.get("signals"):
        return profile, batch
    merged = {**profile, "features": {**profile["features"], **profile["signals"]}}
    return merged, batch.assign(**{name: list(values) for name, values in signals.items()})


def decide(
    summary: dict[str, Any],
    champion: ServedModel,
    batch: pd.DataFrame,
    training: TrainingParams,
    policy: RetrainPolicy,
) -> dict[str, Any]:
    """Whether to retrain, with every trigger's value, threshold and outcome; the cooldown
    counts from the last training of this model (any version, promoted or not)."""
    from modelworks.registry.promotion import last_trained_as_of

    last = last_trained_as_of(champion.name)
    return get_task(champion.task).decide_retrain(
        summary,
        champion,
        as_of=pd.Timestamp(batch[training.time_column].max()).to_pydatetime(),
        policy=policy,
        last_retrain_at=None if last is None else _utc(last),
    )


def _utc(stamp: str) -> Any:
    value = pd.Timestamp(stamp)
    return (value.tz_localize("UTC") if value.tzinfo is None else value).to_pydatetime()


def drift_monitoring_pipeline() -> Pipeline:
    """``holdout_rows`` + ``best_candidate`` + ``scoring_features`` -> ``reference_profile``,
    ``drift_summary`` (JSON) and ``drift_report`` (HTML)."""
    batch, profile, summary = "scoring_features", "reference_profile", "drift_summary"
    return Pipeline(
        [
            node(
                profile_reference,
                ["holdout_rows", "best_candidate", "params:training", "params:monitoring"],
                profile,
                name="profile_reference",
            ),
            node(detect_drift, [profile, batch, "params:monitoring"], summary, name="detect_drift"),
            node(
                render_drift_report,
                [summary, profile, batch, "params:registry"],
                "drift_report",
                name="render_drift_report",
            ),
        ]
    )


def champion_monitoring_pipeline(
    batch: str = "scoring_features",
    *,
    watch: Pipeline | None = None,
    measured: str | None = None,
) -> Pipeline:
    """``champion_model`` + ``batch`` -> ``monitoring_summary``, ``monitoring_history`` (every
    run so far), ``monitoring_report`` (HTML) and ``retrain_decision``.

    ``watch`` replaces the nodes that write the summary and the report (``monitor_champion``,
    ``render_champion_report``) by a family's own with the same outputs: a ranking watches its
    users, catalogue and item popularity. ``measured`` names a dataset measured on the batch's
    outcomes elsewhere (an uplift's realised uplift on its random holdouts), which the summary
    records under that name for the task's retrain decision."""
    if watch is None:
        monitor: Any = monitor_champion
        if measured is not None:
            monitor = update_wrapper(
                partial(monitor_champion, measured_as=measured), monitor_champion
            )
        watch = Pipeline(
            [
                node(
                    monitor,
                    inputs=[
                        "champion_model",
                        batch,
                        "params:training",
                        "params:monitoring",
                        *([measured] if measured else []),
                    ],
                    outputs="monitoring_summary",
                    name="monitor_champion",
                ),
                node(
                    render_champion_report,
                    inputs=["monitoring_summary", "monitoring_history", "champion_model", batch],
                    outputs="monitoring_report",
                    name="render_champion_report",
                ),
            ]
        )
    return watch + Pipeline(
        [
            node(
                record_monitoring,
                inputs="monitoring_summary",
                outputs="monitoring_history",
                name="record_monitoring",
            ),
            node(
                decide,
                inputs=[
                    "monitoring_summary",
                    "champion_model",
                    batch,
                    "params:training",
                    "params:retrain",
                ],
                outputs="retrain_decision",
                name="decide_retrain",
            ),
        ]
    )

"""Monitoring nodes: the reference profile a new model is registered with, drift of the newest
batch against it, and the champion's monitoring run that feeds the retrain decision."""

from __future__ import annotations

import inspect
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
    training: TrainingParams,
    registry: RegistryParams,
) -> str:
    """A self-contained HTML page a person can read, in the monitoring report's layout."""
    if was_skipped(drift_summary):
        return "<!doctype html><title>No new model</title><p>No model was trained in this run.</p>"
    title = f"Drift of the newest scoring batch: {registry.model_name}"
    summary = drift_summary | {
        "model_name": registry.model_name,
        "model_version": "newly trained",
        "task": training.task,
    }
    return render_monitoring_report(summary, reference_profile, scoring_features, title=title)


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


def record_monitoring(summary: dict[str, Any], decision: dict[str, Any]) -> dict[str, Any]:
    """The summary with its retrain decision, appended to the history the report's trend is
    drawn from."""
    return summary | {"retrain_decision": decision}


def render_champion_report(
    summary: dict[str, Any],
    history: list[dict[str, Any]] | dict[str, Any],
    decision: dict[str, Any],
    champion: ServedModel,
    batch: pd.DataFrame,
) -> str:
    """The monitoring page of the champion: drift, performance, the retrain decision taken on
    this run and the trend over every recorded run."""
    title = f"Monitoring of {champion.name} v{champion.version}"
    profile = champion.reference_profile or {}
    if profile.get("signals"):
        task = get_task(champion.task)
        profile, batch = _with_signals(task, profile, batch, champion.predict(batch))
    return render_monitoring_report(
        summary, profile, batch, title=title, history=past_runs(history), decision=decision
    )


def past_runs(history: list[dict[str, Any]] | dict[str, Any]) -> list[dict[str, Any]]:
    """The runs before this one, at most a year of weekly ones: the history is read after this
    run's record was appended (its last entry), or is that record alone when held in memory."""
    if isinstance(history, dict):
        return []
    return list(history[:-1])[-52:]


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
                [summary, profile, batch, "params:training", "params:registry"],
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
    after: str | None = None,
) -> Pipeline:
    """``champion_model`` + ``batch`` -> ``monitoring_summary``, ``retrain_decision``,
    ``monitoring_history`` (every run so far, each with its decision) and
    ``monitoring_report`` (HTML, rendered last so it shows the decision).

    ``watch`` replaces the nodes that write the summary and the report (``monitor_champion``,
    ``render_champion_report``) by a family's own with the same inputs and outputs: a ranking
    watches its users, catalogue and item popularity. ``measured`` names a dataset measured on
    the batch's outcomes elsewhere (an uplift's realised uplift on its random holdouts), which
    the summary records under that name for the task's report and retrain decision. ``after``
    names a dataset the monitoring waits for (this run's ``prediction_summary``): the champion
    is a registry alias, not a node output, so after a training Kedro cannot see that the
    monitored champion is the one the registry decision left.
    """
    if watch is None:
        watch = _standard_watch(batch, measured)
    decided = ["monitoring_summary", "champion_model", batch, "params:training", "params:retrain"]
    pipe = watch + Pipeline(
        [
            node(decide, inputs=decided, outputs="retrain_decision", name="decide_retrain"),
            node(
                record_monitoring,
                inputs=["monitoring_summary", "retrain_decision"],
                outputs="monitoring_history",
                name="record_monitoring",
            ),
        ]
    )
    return pipe if after is None else waiting_for(pipe, after)


def _standard_watch(batch: str, measured: str | None) -> Pipeline:
    """``monitor_champion`` and ``render_champion_report``: the watch of the tabular tasks."""
    monitor: Any = monitor_champion
    if measured is not None:
        monitor = update_wrapper(partial(monitor_champion, measured_as=measured), monitor_champion)
    reported = ["monitoring_summary", "monitoring_history", "retrain_decision"]
    return Pipeline(
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
                inputs=[*reported, "champion_model", batch],
                outputs="monitoring_report",
                name="render_champion_report",
            ),
        ]
    )


def waiting_for(pipe: Pipeline, dataset: str, *, reading: str = "champion_model") -> Pipeline:
    """``pipe`` with every node that loads ``reading`` (the champion) also reading ``dataset``
    (and ignoring it), so Kedro runs them after whatever writes it."""
    return Pipeline(
        [
            n._copy(func=_IgnoringLast(n.func), inputs=[*n.inputs, dataset])
            if reading in n.inputs and isinstance(n._inputs, list)
            else n
            for n in pipe.nodes
        ]
    )


class _IgnoringLast:
    """``func`` called without its last argument: a dataset read only to order the node.

    A class rather than a closure so a node stays picklable (Kedro's parallel runner). It shows
    Kedro the function's signature and annotations with one more positional parameter, so the
    inputs still bind and the ``params:`` inputs are still validated into their typed models.
    """

    def __init__(self, func: Any) -> None:
        self.func = func
        self.__name__ = getattr(func, "__name__", type(self).__name__)
        self.__qualname__ = getattr(func, "__qualname__", self.__name__)
        self.__doc__ = func.__doc__
        self.__wrapped__ = func  # where typing finds the globals the annotations name
        self.__annotations__ = dict(getattr(func, "__annotations__", {}))
        self.__signature__ = _with_extra_parameter(inspect.signature(func))

    def __call__(self, *args: Any) -> Any:
        return self.func(*args[:-1])


def _with_extra_parameter(signature: inspect.Signature) -> inspect.Signature:
    """``signature`` with an optional positional parameter after its positional ones."""
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    params = list(signature.parameters.values())
    cut = next((i for i, p in enumerate(params) if p.kind not in positional), len(params))
    extra = inspect.Parameter("_after", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)
    return signature.replace(parameters=[*params[:cut], extra, *params[cut:]])

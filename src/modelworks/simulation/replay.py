"""Replay weeks of a use case's history through the closed loop: monitor, decide, retrain,
gate, promote, with labels that arrive late.

The rows are every labelled event of a simulated world, with point-in-time features already
retrieved from Feast (a feature value is as of the row's own time, so one retrieval serves
every week) and the time each label becomes known. Week by week, from ``warmup_days`` after
the first event: the champion scores the week's batch and is monitored against its own
reference profile; batches whose labels have all arrived get their realised performance; the
retrain decision runs on the data's clock; a retrain trains on the labelled rows known by
then and goes through the same gate as any run. Everything is registered under
``<model>_simulation`` in the project's MLflow, so the real registry is untouched and the
replay can be browsed in the MLflow UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from pydantic import Field

from modelworks.monitoring import DriftParams, monitor_batch, realised_performance
from modelworks.params import StrictModel
from modelworks.pipelines.monitoring import detect_drift, profile_reference
from modelworks.pipelines.training import (
    RegistryParams,
    TrainingParams,
    describe_lineage,
    register_best_candidate,
    select_best_candidate,
    split_out_of_time,
    train_candidates,
)
from modelworks.registry import tracking
from modelworks.registry.promotion import CHAMPION, PREVIOUS_CHAMPION
from modelworks.scheduling.decision import RetrainPolicy, decide_retrain
from modelworks.serving.datasets import RegisteredModelDataset, ServedModel
from modelworks.training.figures import agg_figure

SUFFIX = "_simulation"


class SimulationParams(StrictModel):
    """How long the replay runs and where its world changes."""

    warmup_days: int = Field(default=360, ge=30)
    """History before the first replayed week: what the first champion is trained on."""
    weeks: int = Field(default=20, ge=2)
    shift_week: int | None = Field(default=8, ge=0)
    """The week the world changes (the generator injects the shift); marked on the plot."""
    shift_strength: float = Field(default=1.0, ge=0)
    label_available_column: str = "label_known_at"
    n_splits: int | None = Field(default=None, ge=2)
    """Folds per retrain, if fewer than the use case's own (a replay retrains many times)."""
    candidates: list[str] | None = None
    """The candidates a retrain trains, if not all of the use case's."""
    search: bool = False
    """Whether a replay's retrains run the candidates' hyperparameter searches (each retrain
    is new data, so a new study); by default they train the candidates' fixed parameters."""
    min_days_between_retrains: float = Field(default=14, ge=0)


def simulate(
    rows: pd.DataFrame,
    validation_report: dict[str, Any],
    feature_service: dict[str, Any],
    parameters: dict[str, Any],
    training: TrainingParams,
    registry: RegistryParams,
    monitoring: DriftParams,
    retrain: RetrainPolicy,
    simulation: SimulationParams,
    *,
    use_case: str,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The weekly timeline (one row per replayed week) and a summary of its events."""
    training = _replay_training(training, simulation)
    registry = registry.model_copy(update={"model_name": registry.model_name + SUFFIX})
    retrain = retrain.model_copy(update={"min_days_between": simulation.min_days_between_retrains})
    _clear_aliases(registry.model_name)
    retrainer = _Retrainer(
        validation_report, feature_service, parameters, training, registry, monitoring, use_case
    )
    rows = rows.sort_values(training.time_column, kind="stable").reset_index(drop=True)
    times = pd.to_datetime(rows[training.time_column], utc=True)
    known = pd.to_datetime(rows[simulation.label_available_column], utc=True)
    start = (times.min() + pd.Timedelta(days=simulation.warmup_days)).normalize()

    weeks: list[dict[str, Any]] = []
    scored: list[tuple[int, str, pd.Series, np.ndarray]] = []  # (week, version, rows, scores)
    # The first champion keeps scoring every batch, as if nobody had retrained: the baseline
    # that shows what the loop recovered.
    stale_scores: list[np.ndarray] = []
    champion: ServedModel | None = None
    first: ServedModel | None = None
    last_retrain: pd.Timestamp | None = None
    for week in range(simulation.weeks):
        as_of = start + pd.Timedelta(weeks=week)
        batch = rows[(times >= as_of) & (times < as_of + pd.Timedelta(weeks=1))]
        record: dict[str, Any] = {"week": week, "as_of": as_of, "rows": len(batch)}
        with tracking.candidate_run(f"week-{week:02d}", tags={"modelworks.role": "replay"}):
            if champion is not None:
                summary = _monitor(champion, batch, training, monitoring)
                summary["realised_performance"] = _latest_realised(
                    scored, rows, known, as_of, champion.version, training.label
                )
                decision = decide_retrain(
                    summary,
                    champion={"version": champion.version, "data_through": champion.data_through},
                    as_of=as_of.to_pydatetime(),
                    policy=retrain,
                    last_retrain_at=None if last_retrain is None else last_retrain.to_pydatetime(),
                )
                record |= _monitoring_fields(summary, training.label, retrain.metric)
                tracking.log_dict(summary, "monitoring_summary.json")
            else:
                decision = {"retrain": True, "reasons": ["no champion yet"], "triggers": []}
            record |= {"retrain": decision["retrain"], "reasons": "; ".join(decision["reasons"])}
            tracking.log_dict(decision, "retrain_decision.json")
            if decision["retrain"]:
                last_retrain = as_of
                labelled = rows[(times < as_of) & (known <= as_of)]
                outcome = retrainer.train_and_gate(labelled, batch)
                record |= {"trained_version": outcome.get("version"), "action": outcome["action"]}
                if outcome.get("promoted"):
                    champion = RegisteredModelDataset(registry.model_name).load()
                    first = first or champion
            if champion is None or first is None:
                raise RuntimeError(f"week {week}: no champion: {record.get('action')}")
            record["champion_version"] = champion.version
            scores = champion.predict(batch) if len(batch) else np.empty(0)
            scored.append((week, champion.version, batch.index.to_series(), scores))
            stale_scores.append(first.predict(batch) if len(batch) else np.empty(0))
        weeks.append(record)
    timeline = pd.DataFrame(weeks)
    _add_realised(timeline, scored, rows, known, training.label, retrain.metric)
    stale = [(w, v, index, s) for (w, v, index, _), s in zip(scored, stale_scores, strict=True)]
    _add_realised(timeline, stale, rows, known, training.label, retrain.metric, prefix="first_")
    return timeline, _summary(timeline, simulation, registry.model_name)


def _replay_training(training: TrainingParams, simulation: SimulationParams) -> TrainingParams:
    update: dict[str, Any] = {}
    if simulation.n_splits is not None:
        update["n_splits"] = simulation.n_splits
    if simulation.candidates is not None:
        unknown = sorted(set(simulation.candidates) - set(training.candidates))
        if unknown:
            raise ValueError(f"simulation.candidates {unknown} are not training candidates")
        update["candidates"] = {k: training.candidates[k] for k in simulation.candidates}
    if not simulation.search:
        chosen = update.get("candidates", training.candidates)
        update["candidates"] = {k: c.model_copy(update={"search": None}) for k, c in chosen.items()}
    return training.model_copy(update=update)


def _clear_aliases(model_name: str) -> None:
    """A replay starts without a champion; earlier replays' versions and trail stay."""
    client = MlflowClient()
    for alias in (CHAMPION, PREVIOUS_CHAMPION):
        try:
            client.delete_registered_model_alias(model_name, alias)
        except MlflowException:
            continue


def _monitor(
    champion: ServedModel, batch: pd.DataFrame, training: TrainingParams, monitoring: DriftParams
) -> dict[str, Any]:
    assert champion.reference_profile is not None
    return monitor_batch(
        champion.reference_profile, batch, monitoring, scores=champion.predict(batch)
    )


def _latest_realised(
    scored: list[tuple[int, str, pd.Series, np.ndarray]],
    rows: pd.DataFrame,
    known: pd.Series,
    as_of: pd.Timestamp,
    version: str,
    label: str,
) -> dict[str, Any] | None:
    """Realised performance of the newest batch this champion scored whose labels are all in."""
    for _, scored_by, index, scores in reversed(scored):
        if scored_by != version or not len(index):
            continue
        if (known.loc[index] <= as_of).all():
            return realised_performance(scores, rows.loc[index, label].to_numpy())
    return None


@dataclass(frozen=True)
class _Retrainer:
    """What every retrain of a replay trains with, besides the rows known by then."""

    validation_report: dict[str, Any]
    feature_service: dict[str, Any]
    parameters: dict[str, Any]
    training: TrainingParams
    registry: RegistryParams
    monitoring: DriftParams
    use_case: str

    def train_and_gate(self, labelled: pd.DataFrame, batch: pd.DataFrame) -> dict[str, Any]:
        """One retrain through the nodes every training run uses, ending at the gate."""
        train, holdout = split_out_of_time(labelled, self.training)
        candidates = train_candidates(train, holdout, self.feature_service, self.training)
        best, _, _ = select_best_candidate(candidates, self.training)
        profile = profile_reference(holdout, best, self.training, self.monitoring)
        drift = detect_drift(profile, batch, self.monitoring)
        entity_columns = [c for c in labelled.columns if c not in self.feature_service["features"]]
        replay_parameters = {
            **self.parameters,
            self.use_case: {
                **self.parameters[self.use_case],
                "training": self.training,
                "registry": self.registry,
            },
        }
        lineage = describe_lineage(
            best,
            labelled[entity_columns],
            self.validation_report,
            self.feature_service,
            replay_parameters,
            use_case=self.use_case,
        )
        return register_best_candidate(
            best, lineage, holdout, drift, profile, self.training, self.registry
        )


def _monitoring_fields(summary: dict[str, Any], label: str, metric: str) -> dict[str, Any]:
    features = summary.get("features", [])
    estimated = summary.get("estimated_performance") or {}
    critical = [f["feature"] for f in features if f["verdict"] == "critical"]
    if (summary.get("prediction_drift") or {}).get("verdict") == "critical":
        critical.append("(model score)")
    return {
        "drift_verdict": summary["verdict"],
        "n_critical": summary["n_critical"],
        "critical": ", ".join(critical),
        "max_psi": max((f["psi"] for f in features if f["psi"] is not None), default=None),
        f"estimated_{metric}": estimated.get(metric),
        f"estimated_{metric}_se": estimated.get(f"{metric}_se"),
        f"reference_{metric}": (summary.get("reference_performance") or {}).get(metric),
    }


def _add_realised(
    timeline: pd.DataFrame,
    scored: list[tuple[int, str, pd.Series, np.ndarray]],
    rows: pd.DataFrame,
    known: pd.Series,
    label: str,
    metric: str,
    *,
    prefix: str = "",
) -> None:
    """Each week's realised performance of the scores made that week, and when it was known."""
    realised, brier, available = [], [], []
    for _, _, index, scores in scored:
        labels = rows.loc[index, label].to_numpy()
        both = len(index) and 0 < labels.sum() < len(labels)
        result = realised_performance(scores, labels) if both else {}
        realised.append(result.get(metric))
        brier.append(float(np.mean((scores - labels) ** 2)) if len(index) else None)
        available.append(known.loc[index].max() if len(index) else None)
    timeline[f"{prefix}realised_{metric}"] = realised
    timeline[f"{prefix}realised_brier"] = brier
    if not prefix:
        timeline["labels_complete_at"] = available


def _summary(
    timeline: pd.DataFrame, simulation: SimulationParams, model_name: str
) -> dict[str, Any]:
    retrains = timeline.index[timeline["retrain"]].tolist()
    promoted = timeline.index[timeline.get("action", pd.Series(dtype=object)) == "promoted"]
    return {
        "model_name": model_name,
        "weeks": simulation.weeks,
        "shift_week": simulation.shift_week,
        "retrain_weeks": [int(w) for w in retrains],
        "promotion_weeks": [int(w) for w in promoted],
        "champions": timeline["champion_version"].tolist(),
        "drift_critical_weeks": [
            int(w) for w in timeline.index[timeline.get("drift_verdict") == "critical"]
        ],
    }


def timeline_figure(timeline: pd.DataFrame, summary: dict[str, Any], *, metric: str) -> Any:
    """Three panels by week: the metric estimated without labels and realised once they
    arrive; the realised Brier score of the champion against the first model left in place;
    the largest feature PSI. Shift, retrains and promotions are marked on all three."""
    figure = agg_figure((10, 9), layout="constrained")
    quality, calibration, drift = figure.subplots(3, 1, sharex=True, height_ratios=[3, 3, 2])
    weeks = timeline["week"]
    if f"estimated_{metric}" in timeline:
        estimated = timeline[f"estimated_{metric}"].astype(float)
        se = timeline[f"estimated_{metric}_se"].astype(float).fillna(0.0)
        quality.plot(weeks, estimated, marker="o", label=f"estimated {metric} (no labels)")
        quality.fill_between(weeks, estimated - 2 * se, estimated + 2 * se, alpha=0.2)
    quality.plot(weeks, timeline[f"realised_{metric}"], marker="s", label=f"realised {metric}")
    quality.set_ylabel(metric)
    calibration.plot(weeks, timeline["realised_brier"], marker="s", label="champion")
    calibration.plot(
        weeks, timeline["first_realised_brier"], linestyle=":", label="first model, never replaced"
    )
    calibration.set_ylabel("realised Brier score")
    drift.bar(weeks, timeline.get("max_psi", pd.Series(0.0, index=weeks)).fillna(0.0), color="grey")
    drift.set_ylabel("largest feature PSI")
    drift.set_xlabel(
        "week (labels arrive weeks later: realised figures are drawn at the week scored)"
    )
    for axis in (quality, calibration, drift):
        if summary.get("shift_week") is not None:
            axis.axvline(summary["shift_week"] - 0.5, color="red", linestyle="--")
        for week in summary["retrain_weeks"]:
            axis.axvline(week, color="orange", alpha=0.6, linewidth=1)
        for week in summary["promotion_weeks"]:
            axis.axvline(week, color="green", linewidth=2)
    for axis in (quality, calibration):
        axis.plot([], [], color="red", linestyle="--", label="population shift")
        axis.plot([], [], color="orange", label="retrain")
        axis.plot([], [], color="green", linewidth=2, label="promotion")
        axis.legend(loc="best", fontsize=8)
    quality.set_title(f"Replay of {summary['model_name']}: monitoring, retrains and promotions")
    return figure


def simulation_pipeline(
    *,
    use_case: str,
    rows: str = "rows",
    validation_report: str = "validation_report",
    feature_service: str = "feature_service",
) -> Any:
    """``rows`` (with the ``validation_report`` and ``feature_service`` of the replayed world)
    -> ``simulation_timeline``, ``simulation_summary`` and ``simulation_plot``."""
    from functools import partial, update_wrapper

    from kedro.pipeline import Pipeline, node

    replay = update_wrapper(partial(simulate, use_case=use_case), simulate)
    return Pipeline(
        [
            node(
                replay,
                inputs=[
                    rows,
                    validation_report,
                    feature_service,
                    "parameters",
                    "params:training",
                    "params:registry",
                    "params:monitoring",
                    "params:retrain",
                    "params:simulation",
                ],
                outputs=["simulation_timeline", "simulation_summary"],
                name="simulate_weeks",
            ),
            node(
                plot_timeline,
                inputs=["simulation_timeline", "simulation_summary", "params:retrain"],
                outputs="simulation_plot",
                name="plot_simulation_timeline",
            ),
        ]
    )


def plot_timeline(timeline: pd.DataFrame, summary: dict[str, Any], retrain: RetrainPolicy) -> Any:
    """The timeline figure, for the catalog to save and log."""
    return timeline_figure(timeline, summary, metric=retrain.metric)

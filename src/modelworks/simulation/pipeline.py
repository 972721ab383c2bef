"""The replay as a Kedro pipeline: rows of a simulated world in, timeline, scores, summary and
plot out."""

from __future__ import annotations

from functools import partial, update_wrapper
from typing import Any

import pandas as pd
from kedro.pipeline import Pipeline, node

from modelworks.monitoring import DriftParams
from modelworks.pipelines.training import RegistryParams, TrainingParams
from modelworks.scheduling.decision import RetrainPolicy
from modelworks.simulation.figure import timeline_figure
from modelworks.simulation.outcome import add_realised, scores_table, summarise
from modelworks.simulation.params import SimulationParams
from modelworks.simulation.replay import SUFFIX, Losses, PolicyReplay, World
from modelworks.simulation.retrainer import Retrainer
from modelworks.tasks import get_task


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
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The weekly timeline (a row per policy and week), every score the champions and
    challengers made, and the summary per policy."""
    task = get_task(training.task)
    training = _replay_training(training, simulation)
    retrain = retrain.model_copy(update={"min_days_between": simulation.min_days_between_retrains})
    world = World.of(rows, training, simulation)
    losses = Losses(world, task, training)
    retrainer = Retrainer(validation_report, feature_service, parameters, monitoring, use_case)
    replays = [
        PolicyReplay.start(name, policy, training, registry, retrain, monitoring)
        for name, policy in simulation.policies.items()
    ]
    records, scored = [], []
    for week in range(simulation.weeks):
        for replay in replays:
            record, rows_scored = replay.week(week, world, losses, retrainer)
            records.append(record)
            scored.extend(rows_scored)
    scores = scores_table(scored)
    timeline = add_realised(pd.DataFrame(records), scores)
    summary = summarise(
        timeline,
        scores,
        simulation,
        loss=task.live_loss,
        model_names={r.name: r.registry.model_name for r in replays},
        loss_of_run=losses.of_run,
    )
    return timeline, scores, summary


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


def plot_timeline(
    timeline: pd.DataFrame, summary: dict[str, Any], simulation: SimulationParams
) -> Any:
    """The timeline figure, for the catalog to save and log."""
    return timeline_figure(timeline, summary, featured=simulation.featured)


def simulation_pipeline(
    *,
    use_case: str,
    rows: str = "rows",
    validation_report: str = "validation_report",
    feature_service: str = "feature_service",
) -> Pipeline:
    """``rows`` (with the ``validation_report`` and ``feature_service`` of the replayed world)
    -> ``simulation_timeline``, ``simulation_scores``, ``simulation_summary`` and
    ``simulation_plot``."""
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
                outputs=["simulation_timeline", "simulation_scores", "simulation_summary"],
                name="simulate_weeks",
            ),
            node(
                plot_timeline,
                inputs=["simulation_timeline", "simulation_summary", "params:simulation"],
                outputs="simulation_plot",
                name="plot_simulation_timeline",
            ),
        ]
    )


__all__ = ["SUFFIX", "plot_timeline", "simulate", "simulation_pipeline"]

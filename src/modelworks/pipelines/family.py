"""The standard family of pipelines every supervised use case has, composed once."""

from __future__ import annotations

from typing import Any

from kedro.pipeline import Pipeline

from modelworks.pipelines.monitoring import (
    champion_monitoring_pipeline,
    drift_monitoring_pipeline,
    waiting_for,
)
from modelworks.pipelines.scoring import batch_scoring_pipeline
from modelworks.pipelines.shadow import live_judging_pipeline, shadow_scoring_pipeline
from modelworks.pipelines.training import training_pipeline

# What batch scoring writes last: monitoring of the scored batch waits for it.
SCORED = "prediction_summary"


def lifecycle_pipelines(
    use_case: str, *, ingest: Pipeline, prepare: Pipeline, entity_rows: str
) -> dict[str, Pipeline]:
    """``<use_case>_ingest``, ``_train``, ``_score``, ``_monitor``, ``_retrain`` and
    ``<use_case>`` (ingest, train, score and monitor in order), not yet namespaced.

    ``ingest`` makes the raw tables; ``prepare`` turns them into ``training_set``,
    ``feature_service`` and ``scoring_features`` (the batch scored and monitored);
    ``entity_rows`` names the rows the training set was retrieved for. Every scored batch is
    monitored: ``_score`` and ``<use_case>`` write the champion's monitoring report and retrain
    decision after scoring, which after a training waits for its registry decision.
    Retraining monitors the champion first and trains only when the decision says so, then
    scores with whichever model the gate left as champion (monitored once per run: Kedro lets
    one node alone write a dataset).
    """
    batch = "scoring_features"
    train = (
        prepare
        + training_pipeline(use_case=use_case, entity_rows=entity_rows)
        + drift_monitoring_pipeline()
    )
    # Challengers are judged on the labels that have arrived before the champion is monitored:
    # a promotion on live evidence changes the champion the decision is about.
    retrain = (
        prepare
        + live_judging_pipeline("training_set")
        + waiting_for(champion_monitoring_pipeline(batch), "live_decisions")
        + training_pipeline(
            use_case=use_case, entity_rows=entity_rows, retrain_decision="retrain_decision"
        )
        + drift_monitoring_pipeline()
    )
    score_new_champion = batch_scoring_pipeline(
        batch, after_training=True
    ) + shadow_scoring_pipeline(batch, after="registry_decision")
    return {
        f"{use_case}_ingest": ingest,
        f"{use_case}_train": train,
        f"{use_case}_score": batch_scoring_pipeline(batch)
        + shadow_scoring_pipeline(batch)
        + monitor_scored(batch),
        f"{use_case}_monitor": champion_monitoring_pipeline(batch),
        f"{use_case}_retrain": retrain + score_new_champion,
        use_case: ingest + train + score_new_champion + monitor_scored(batch),
    }


def monitor_scored(batch: str, **options: Any) -> Pipeline:
    """The champion's monitoring of the ``batch`` just scored: it waits for this run's
    ``prediction_summary``, so it watches the model that scored (after a training, the one
    the registry decision left as champion)."""
    return champion_monitoring_pipeline(batch, after=SCORED, **options)

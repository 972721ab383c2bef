"""The standard family of pipelines every supervised use case has, composed once."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from modelworks.pipelines.monitoring import champion_monitoring_pipeline, drift_monitoring_pipeline
from modelworks.pipelines.scoring import batch_scoring_pipeline
from modelworks.pipelines.training import training_pipeline


def lifecycle_pipelines(
    use_case: str, *, ingest: Pipeline, prepare: Pipeline, entity_rows: str
) -> dict[str, Pipeline]:
    """``<use_case>_ingest``, ``_train``, ``_score``, ``_monitor``, ``_retrain`` and
    ``<use_case>`` (ingest, train and score in order), not yet namespaced.

    ``ingest`` makes the raw tables; ``prepare`` turns them into ``training_set``,
    ``feature_service`` and ``scoring_features`` (the batch scored and monitored);
    ``entity_rows`` names the rows the training set was retrieved for. Retraining monitors
    the champion first and trains only when the decision says so; scoring after a training
    waits for its registry decision.
    """
    batch = "scoring_features"
    monitor = champion_monitoring_pipeline(batch)
    train = (
        prepare
        + training_pipeline(use_case=use_case, entity_rows=entity_rows)
        + drift_monitoring_pipeline()
    )
    retrain = (
        prepare
        + monitor
        + training_pipeline(
            use_case=use_case, entity_rows=entity_rows, retrain_decision="retrain_decision"
        )
        + drift_monitoring_pipeline()
    )
    score_new_champion = batch_scoring_pipeline(batch, after_training=True)
    return {
        f"{use_case}_ingest": ingest,
        f"{use_case}_train": train,
        f"{use_case}_score": batch_scoring_pipeline(batch),
        f"{use_case}_monitor": monitor,
        f"{use_case}_retrain": retrain + score_new_champion,
        use_case: ingest + train + score_new_champion,
    }

"""hotel_recommendation: raw tables -> GE gate -> Feast -> two-tower model vs popularity and
content baselines (task ``ranking``) -> registry -> top-10 lists -> drift of users, hotels and
popularity -> retrain decision -> monitoring report."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node, pipeline

from modelworks.pipelines import (
    batch_scoring_pipeline,
    champion_monitoring_pipeline,
    feature_store_pipeline,
    monitor_scored,
    training_pipeline,
    validation_pipeline,
)
from modelworks.recommenders.rows import ranking_rows_pipeline
from modelworks.recommenders.watch import ranking_judging_pipeline, ranking_watch_pipeline
from pipelines.hotel_recommendation.features import FEATURE_TABLES
from pipelines.hotel_recommendation.generator import generate_hotel_data
from pipelines.hotel_recommendation.nodes import (
    attach_search_times,
    build_hotel_attributes,
    build_hotel_popularity,
    build_user_bookings,
    build_user_preferences,
    build_user_profile,
)

NAME = "hotel_recommendation"
RAW_TABLES = ["users", "hotels", "searches", "interactions"]
# What the ranking rows are built from: every event with its search time, and both sides.
DATASETS = {
    "interactions": "search_interactions",
    "users": "validated_users",
    "items": "validated_hotels",
}


def create_pipelines() -> dict[str, Pipeline]:
    """The use case's pipelines:

    * ``hotel_recommendation_ingest``: generator -> raw tables;
    * ``hotel_recommendation_train``: validation gate, features, the model against both
      baselines, registry gate, drift of the latest period;
    * ``hotel_recommendation_score``: the champion's top-10 hotels for every user, then its
      monitoring report and retrain decision;
    * ``hotel_recommendation_monitor``: the champion's reference against the latest period, and
      the retrain decision;
    * ``hotel_recommendation_retrain``: monitor -> decide -> train -> gate -> promote -> score,
      training only when the decision says so;
    * ``hotel_recommendation``: ingest, train, score and monitor, in order.
    """
    ingest = Pipeline(
        [
            node(
                generate_hotel_data,
                inputs="params:generator",
                outputs={t: f"raw_{t}" for t in RAW_TABLES},
                name="generate_hotel_data",
            )
        ]
    )
    feature_tables = Pipeline(
        [
            node(
                build_hotel_attributes,
                "validated_hotels",
                "hotel_attributes",
                name="build_hotel_attributes",
            ),
            node(
                build_hotel_popularity,
                ["validated_interactions", "validated_hotels"],
                "hotel_popularity",
                name="build_hotel_popularity",
            ),
            node(build_user_profile, "validated_users", "user_profile", name="build_user_profile"),
            node(
                build_user_preferences,
                ["validated_interactions", "validated_hotels"],
                "user_preferences",
                name="build_user_preferences",
            ),
            node(
                build_user_bookings,
                "validated_interactions",
                "user_bookings",
                name="build_user_bookings",
            ),
            node(
                attach_search_times,
                ["validated_interactions", "validated_searches"],
                "search_interactions",
                name="attach_search_times",
            ),
        ]
    )
    prepare = (
        validation_pipeline(RAW_TABLES)
        + feature_tables
        + feature_store_pipeline(list(FEATURE_TABLES))
        + ranking_rows_pipeline(**DATASETS)
    )

    def training(retrain_decision: str | None = None) -> Pipeline:
        """The framework's training on the ranking rows, then the models compared and drift."""
        return (
            training_pipeline(
                use_case=NAME,
                entity_rows=DATASETS["interactions"],
                retrain_decision=retrain_decision,
                rows=("training_set", "holdout_users"),
                context="training_context",
            )
            + ranking_judging_pipeline()
        )

    train = prepare + training()
    # A recommender is watched on the latest period's requests; every scoring run watches it.
    monitor = champion_monitoring_pipeline("holdout_set", watch=ranking_watch_pipeline())
    monitor_after_scoring = monitor_scored("holdout_set", watch=ranking_watch_pipeline())
    retrain = prepare + monitor + training(retrain_decision="retrain_decision")
    score = batch_scoring_pipeline("scoring_features") + monitor_after_scoring
    score_new_champion = batch_scoring_pipeline("scoring_features", after_training=True)
    return {
        f"{NAME}_ingest": pipeline(ingest, namespace=NAME),
        f"{NAME}_train": pipeline(train, namespace=NAME),
        f"{NAME}_score": pipeline(score, namespace=NAME),
        f"{NAME}_monitor": pipeline(monitor, namespace=NAME),
        f"{NAME}_retrain": pipeline(retrain + score_new_champion, namespace=NAME),
        NAME: pipeline(ingest + train + score_new_champion + monitor_after_scoring, namespace=NAME),
    }

"""credit_risk: raw tables -> GE gate -> Feast -> CatBoost vs LightGBM -> registry -> drift."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node, pipeline

from modelworks.pipelines import (
    batch_scoring_pipeline,
    champion_monitoring_pipeline,
    drift_monitoring_pipeline,
    feature_retrieval_pipeline,
    feature_store_pipeline,
    training_pipeline,
    validation_pipeline,
)
from pipelines.credit_risk.generator import generate_credit_data
from pipelines.credit_risk.nodes import (
    build_borrower_profile,
    build_loan_entity_rows,
    build_repayment_history,
    build_scoring_entity_rows,
)

NAME = "credit_risk"
RAW_TABLES = ["borrowers", "loans", "repayments", "scoring_loans"]
FEATURE_TABLES = ["borrower_profile", "borrower_repayment_history"]


def create_pipelines() -> dict[str, Pipeline]:
    """The use case's pipelines:

    * ``credit_risk_ingest``: generator -> raw tables;
    * ``credit_risk_train``: validation gate, features, training, registry gate, drift;
    * ``credit_risk_score``: the champion on the scoring batch;
    * ``credit_risk_monitor``: the champion's monitoring run and the retrain decision;
    * ``credit_risk_retrain``: monitor -> decide -> train -> gate -> promote -> score, training
      only when the decision says so;
    * ``credit_risk``: ingest, train and score in order.
    """
    ingest = Pipeline(
        [
            node(
                generate_credit_data,
                inputs="params:generator",
                outputs={t: f"raw_{t}" for t in RAW_TABLES},
                name="generate_credit_data",
            )
        ]
    )
    feature_tables = Pipeline(
        [
            node(
                build_borrower_profile,
                "validated_borrowers",
                "borrower_profile",
                name="build_borrower_profile",
            ),
            node(
                build_repayment_history,
                ["validated_repayments", "validated_loans"],
                "borrower_repayment_history",
                name="build_repayment_history",
            ),
            node(
                build_loan_entity_rows,
                "validated_loans",
                "loan_entity_rows",
                name="build_loan_entity_rows",
            ),
            node(
                build_scoring_entity_rows,
                "validated_scoring_loans",
                "scoring_entity_rows",
                name="build_scoring_entity_rows",
            ),
        ]
    )
    prepare = (
        validation_pipeline(RAW_TABLES)
        + feature_tables
        + feature_store_pipeline(FEATURE_TABLES)
        + feature_retrieval_pipeline("loan_entity_rows", "training_set")
        + feature_retrieval_pipeline("scoring_entity_rows", "scoring_features")
    )
    train = (
        prepare
        + training_pipeline(use_case=NAME, entity_rows="loan_entity_rows")
        + drift_monitoring_pipeline()
    )
    retrain = (
        prepare
        + champion_monitoring_pipeline("scoring_features")
        + training_pipeline(
            use_case=NAME, entity_rows="loan_entity_rows", retrain_decision="retrain_decision"
        )
        + drift_monitoring_pipeline()
    )
    score = batch_scoring_pipeline("scoring_features")
    score_new_champion = batch_scoring_pipeline("scoring_features", after_training=True)
    return {
        f"{NAME}_ingest": pipeline(ingest, namespace=NAME),
        f"{NAME}_train": pipeline(train, namespace=NAME),
        f"{NAME}_score": pipeline(score, namespace=NAME),
        f"{NAME}_monitor": pipeline(
            champion_monitoring_pipeline("scoring_features"), namespace=NAME
        ),
        f"{NAME}_retrain": pipeline(retrain + score_new_champion, namespace=NAME),
        NAME: pipeline(ingest + train + score_new_champion, namespace=NAME),
    }
